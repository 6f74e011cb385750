//! The configuration file's `alerting:` and `remote_write:` sections (kept as
//! written by `promlite-config`) turned into the typed settings of the
//! notifier and the remote-write sender.
//!
//! [`apply`] adds them, with `rule_files` and `global.evaluation_interval` /
//! `external_labels`, to the flags of [`super::rules`] and [`super::remote`].
//! They are read once at start-up: a reload changes only the scrape jobs.

use std::path::Path;
use std::time::Duration;

use promlite::rules::notifier::AlertmanagerTarget;
use promlite_remote::RemoteWriteConfig;
use serde_json::Value;

/// Takes from the configuration file `path`, in addition to the flags:
/// `rule_files` (relative to the file's directory), `global.evaluation_interval`
/// (unless `--rules.evaluation-interval` is given), `global.external_labels`
/// (templates' `$externalLabels` and alerts sent; not remote_write samples,
/// which the sender does not relabel), `alerting.alertmanagers` and
/// `remote_write`.
///
/// # Errors
/// The configuration's errors, or an unsupported `alerting` / `remote_write` entry.
pub fn apply(
    path: &Path,
    rules: &mut super::rules::RuleArgs,
    remote: &mut super::remote::RemoteArgs,
) -> Result<(), String> {
    let cfg = promlite::config::Config::load_file(path).map_err(|e| e.to_string())?;
    let at = |e: String| format!("{}: {e}", path.display());
    rules.patterns.extend(cfg.rule_files.iter().cloned());
    if rules.interval_ms.is_none() {
        rules.interval_ms = Some(cfg.global.evaluation_interval.as_millis() as i64);
    }
    rules.external_labels = promlite::model::Labels::from_pairs(
        cfg.global
            .external_labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    if let Some(a) = &cfg.alerting {
        if a.get("alert_relabel_configs")
            .and_then(Value::as_array)
            .is_some_and(|l| !l.is_empty())
        {
            return Err(at(
                "alerting.alert_relabel_configs is not supported by promlite".into(),
            ));
        }
        rules.config_targets = alertmanager_targets(a).map_err(at)?;
    }
    remote.configs = remote_write_configs(&cfg.remote_write).map_err(at)?;
    Ok(())
}

/// One [`AlertmanagerTarget`] per `static_configs` target of every
/// `alerting.alertmanagers` entry: `scheme` (default http), `path_prefix`,
/// `timeout` (default 10s), and `authorization.credentials` /
/// `bearer_token` as the bearer token.
///
/// # Errors
/// Service discovery other than `static_configs`, `basic_auth`,
/// `tls_config` or a bad field, named with the entry's position.
pub fn alertmanager_targets(alerting: &Value) -> Result<Vec<AlertmanagerTarget>, String> {
    let mut out = Vec::new();
    let Some(list) = alerting.get("alertmanagers") else {
        return Ok(out);
    };
    let list = list
        .as_array()
        .ok_or("alerting.alertmanagers: not a list")?;
    for (i, am) in list.iter().enumerate() {
        let at = |msg: &str| format!("alerting.alertmanagers[{i}]: {msg}");
        let obj = am.as_object().ok_or_else(|| at("not a mapping"))?;
        for (k, _) in obj {
            match k.as_str() {
                "static_configs" | "scheme" | "path_prefix" | "timeout" | "authorization"
                | "bearer_token" | "api_version" | "follow_redirects" | "enable_http2" => {}
                other => return Err(at(&format!("{other} is not supported by promlite"))),
            }
        }
        if let Some(v) = obj.get("api_version").and_then(Value::as_str) {
            if v != "v2" {
                return Err(at(&format!("api_version {v:?}: only v2 is supported")));
            }
        }
        let str_of = |k: &str| -> Result<Option<&str>, String> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(at(&format!("{k}: not a string"))),
            }
        };
        let scheme = str_of("scheme")?.unwrap_or("http");
        if scheme != "http" && scheme != "https" {
            return Err(at(&format!("scheme {scheme:?}: http or https")));
        }
        let prefix = str_of("path_prefix")?.unwrap_or("").trim_end_matches('/');
        let prefix = if prefix.is_empty() || prefix.starts_with('/') {
            prefix.to_string()
        } else {
            format!("/{prefix}")
        };
        let timeout = match str_of("timeout")? {
            Some(t) => promlite_remote::parse_duration(t).map_err(|e| at(&e))?,
            None => Duration::from_secs(10),
        };
        let token = match obj.get("authorization") {
            Some(a) => {
                if let Some(t) = a.get("type").and_then(Value::as_str) {
                    if !t.eq_ignore_ascii_case("bearer") {
                        return Err(at(&format!("authorization type {t:?}: only Bearer")));
                    }
                }
                if a.get("credentials_file").is_some() {
                    return Err(at("authorization.credentials_file is not supported"));
                }
                a.get("credentials")
                    .and_then(Value::as_str)
                    .map(String::from)
            }
            None => str_of("bearer_token")?.map(String::from),
        };
        let statics = obj
            .get("static_configs")
            .and_then(Value::as_array)
            .ok_or_else(|| at("static_configs: needed (no other discovery)"))?;
        for sc in statics {
            let targets = sc
                .get("targets")
                .and_then(Value::as_array)
                .ok_or_else(|| at("static_configs: targets is not a list"))?;
            for t in targets {
                let t = t.as_str().ok_or_else(|| at("a target is not a string"))?;
                let mut am = AlertmanagerTarget::new(format!("{scheme}://{t}{prefix}"));
                am.timeout = timeout;
                am.bearer_token = token.clone();
                out.push(am);
            }
        }
    }
    Ok(out)
}

/// The `remote_write:` entries as [`RemoteWriteConfig`]s (the sender's own
/// reader: Prometheus's field names and defaults).
///
/// # Errors
/// A bad entry, named with its position.
pub fn remote_write_configs(entries: &[Value]) -> Result<Vec<RemoteWriteConfig>, String> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            serde_json::from_value(e.clone()).map_err(|err| format!("remote_write[{i}]: {err}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn alertmanagers_from_static_configs() {
        let v = json!({"alertmanagers": [
            {"scheme": "https", "path_prefix": "am/", "timeout": "3s",
             "authorization": {"credentials": "tok"},
             "static_configs": [{"targets": ["a:9093", "b:9093"]}]},
            {"static_configs": [{"targets": ["c:9093"]}]}
        ]});
        let t = alertmanager_targets(&v).unwrap();
        let urls: Vec<&str> = t.iter().map(|a| a.url.as_str()).collect();
        assert_eq!(
            urls,
            ["https://a:9093/am", "https://b:9093/am", "http://c:9093"]
        );
        assert_eq!(t[0].timeout, Duration::from_secs(3));
        assert_eq!(t[1].bearer_token.as_deref(), Some("tok"));
        assert_eq!(t[2].timeout, Duration::from_secs(10));
        assert_eq!(t[2].bearer_token, None);
        let e = alertmanager_targets(&json!({"alertmanagers": [
            {"dns_sd_configs": [{"names": ["x"]}]}]}))
        .unwrap_err();
        assert_eq!(
            e,
            "alerting.alertmanagers[0]: dns_sd_configs is not supported by promlite"
        );
    }

    #[test]
    fn remote_write_entries() {
        let c = remote_write_configs(&[json!({"url": "http://vm:8428/api/v1/write"})]).unwrap();
        assert_eq!(c[0].url, "http://vm:8428/api/v1/write");
        assert!(remote_write_configs(&[json!({"url": 5})])
            .unwrap_err()
            .starts_with("remote_write[0]: "));
    }
}
