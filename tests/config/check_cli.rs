//! `promlite check config` prints what `promtool check config` prints and exits as it
//! does; its error lines add the position.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{promlite_bin, which};
use crate::support::https::temp_dir;

fn run(cmd: &Path, args: &[&str], dir: &Path) -> Output {
    Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run checker")
}

#[test]
fn check_config_matches_promtool() {
    let dir = temp_dir("check-cli");
    std::fs::write(dir.join("r.yml"), "groups: []\n").unwrap();
    std::fs::write(
        dir.join("good.yml"),
        "scrape_configs:\n- job_name: a\n  static_configs: [{targets: ['x:1']}]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("bad.yml"),
        "scrape_configs:\n- job_name: a\n  scrape_interval: 1x\n",
    )
    .unwrap();
    std::fs::write(dir.join("norule.yml"), "rule_files: [missing.yml]\n").unwrap();
    let ours = promlite_bin();
    let ours = |args: &[&str]| {
        let mut a = vec!["check", "config"];
        a.extend_from_slice(args);
        run(&ours, &a, &dir)
    };

    let good = ours(&["good.yml"]);
    assert_eq!(good.status.code(), Some(0));
    let good_out =
        "Checking good.yml\n SUCCESS: good.yml is valid prometheus config file syntax\n\n";
    assert_eq!(String::from_utf8_lossy(&good.stdout), good_out);

    let bad = ours(&["good.yml", "bad.yml"]);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&bad.stdout),
        format!("{good_out}Checking bad.yml\n\n")
    );
    assert_eq!(
        String::from_utf8_lossy(&bad.stderr),
        "  FAILED: bad.yml:3:20: scrape_configs[0].scrape_interval: not a valid duration string: \"1x\"\n"
    );
    let norule = ours(&["norule.yml"]);
    assert_eq!(norule.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&norule.stderr),
        "  FAILED: \"missing.yml\" does not point to an existing file\n"
    );

    if !which("promtool") {
        let why = "promtool (Debian's `prometheus` package) is not installed";
        assert!(
            std::env::var_os("PROMLITE_REQUIRE_ORACLE").is_none(),
            "{why}"
        );
        eprintln!("SKIPPED check_config_matches_promtool's promtool half: {why}");
        return;
    }
    let pt = |args: &[&str]| {
        let mut a = vec!["check", "config"];
        a.extend_from_slice(args);
        run(Path::new("promtool"), &a, &dir)
    };
    // Same stdout and exit codes as promtool; promtool's failure lines lack positions.
    let p = pt(&["good.yml"]);
    assert_eq!(
        (p.status.code(), p.stdout),
        (good.status.code(), good.stdout)
    );
    let p = pt(&["good.yml", "bad.yml"]);
    assert_eq!(
        (p.status.code(), &p.stdout),
        (bad.status.code(), &bad.stdout)
    );
    assert_eq!(
        String::from_utf8_lossy(&p.stderr),
        "  FAILED: parsing YAML file bad.yml: not a valid duration string: \"1x\"\n"
    );
    let p = pt(&["norule.yml"]);
    assert_eq!(
        (p.status.code(), &p.stderr),
        (norule.status.code(), &norule.stderr)
    );
}
