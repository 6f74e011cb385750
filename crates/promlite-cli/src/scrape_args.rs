//! Scrape flags shared by `promlite watch` and `promlite serve --scrape`, and the
//! scrape loop both run.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use promlite::scrape::{Auth, ScrapeConfig, ScrapeError, Scraper};
use promlite::store::Store;

/// Help text for the flags below.
pub const FLAGS_HELP: &str = "  --interval D                 scrape interval (default 15s)
  --timeout D                  scrape timeout (default 10s, at most the interval)
  --job NAME                   the `job` label (default: see the command)
  --label NAME=VALUE           another target label (repeatable)
  --bearer-token-file F        send `Authorization: Bearer <F's contents>`; F is re-read
                               before every scrape, so rotated tokens are picked up
  --bearer-token T             the same with a literal token
  --cert F --key F             client certificate and key (PEM)
  --ca-file F                  trust the CA certificate(s) in F (PEM) instead of the
                               built-in Mozilla roots
  --insecure-skip-tls-verify   accept any server certificate (like curl -k)
  --body-limit BYTES           refuse bodies larger than this (default 64 MiB)
  --fallback-scrape-protocol P read a body whose Content-Type is blank or not text
                               as P (PrometheusText0.0.4, OpenMetricsText1.0.0...);
                               without it such a scrape fails, as in Prometheus 3";

const FLAGS: &[&str] = &[
    "interval",
    "timeout",
    "job",
    "label",
    "bearer-token-file",
    "bearer-token",
    "cert",
    "key",
    "ca-file",
    "insecure-skip-tls-verify",
    "body-limit",
    "fallback-scrape-protocol",
];

/// Parsed scrape flags.
#[derive(Debug, Clone)]
pub struct ScrapeArgs {
    /// Scrape interval.
    pub interval: Duration,
    timeout: Option<Duration>,
    job: Option<String>,
    labels: Vec<(String, String)>,
    token_file: Option<PathBuf>,
    token: Option<String>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    insecure: bool,
    body_limit: Option<u64>,
    fallback: Option<promlite::expfmt::Format>,
}

impl Default for ScrapeArgs {
    fn default() -> Self {
        ScrapeArgs {
            interval: Duration::from_secs(15),
            timeout: None,
            job: None,
            labels: Vec::new(),
            token_file: None,
            token: None,
            cert: None,
            key: None,
            ca_file: None,
            insecure: false,
            body_limit: None,
            fallback: None,
        }
    }
}

fn utf8(v: OsString) -> Result<String, String> {
    v.into_string()
        .map_err(|_| "argument is not UTF-8".to_string())
}

fn duration(flag: &str, v: &str) -> Result<Duration, String> {
    crate::serve::api::parse_duration_ms(v)
        .filter(|ms| *ms > 0)
        .map(|ms| Duration::from_millis(ms as u64))
        .ok_or_else(|| format!("bad --{flag} {v:?} (a duration such as 15s or 1m)"))
}

impl ScrapeArgs {
    /// True for the long flags [`take`](Self::take) handles.
    pub fn is_flag(name: &str) -> bool {
        FLAGS.contains(&name)
    }

    /// Consumes the long flag `name` (one of [`is_flag`](Self::is_flag)) and its value.
    pub fn take(&mut self, name: &str, p: &mut lexopt::Parser) -> Result<(), String> {
        let mut value =
            || -> Result<String, String> { utf8(p.value().map_err(|e| e.to_string())?) };
        match name {
            "interval" => self.interval = duration("interval", &value()?)?,
            "timeout" => self.timeout = Some(duration("timeout", &value()?)?),
            "job" => self.job = Some(value()?),
            "label" => {
                let v = value()?;
                let (n, val) = v
                    .split_once('=')
                    .filter(|(n, _)| !n.is_empty())
                    .ok_or_else(|| format!("bad --label {v:?} (NAME=VALUE)"))?;
                self.labels.push((n.to_string(), val.to_string()));
            }
            "bearer-token-file" => self.token_file = Some(value()?.into()),
            "bearer-token" => self.token = Some(value()?),
            "cert" => self.cert = Some(value()?.into()),
            "key" => self.key = Some(value()?.into()),
            "ca-file" => self.ca_file = Some(value()?.into()),
            "insecure-skip-tls-verify" => self.insecure = true,
            "body-limit" => {
                let v = value()?;
                self.body_limit = Some(
                    v.parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("bad --body-limit {v:?}"))?,
                );
            }
            "fallback-scrape-protocol" => {
                let v = value()?;
                self.fallback = Some(
                    promlite::scrape::parse_scrape_protocol(&v)
                        .map_err(|e| format!("bad --fallback-scrape-protocol: {e}"))?,
                );
            }
            _ => return Err(format!("--{name} is not a scrape flag")),
        }
        Ok(())
    }

    /// One scraper per URL; `default_job` and `default_labels` unless overridden.
    pub fn scrapers(
        &self,
        urls: &[String],
        default_job: &str,
        default_labels: &[(&str, &str)],
    ) -> Result<Vec<Scraper>, String> {
        if self.token.is_some() && self.token_file.is_some() {
            return Err("give --bearer-token or --bearer-token-file, not both".to_string());
        }
        if self.ca_file.is_some() && self.insecure {
            return Err("give --ca-file or --insecure-skip-tls-verify, not both".to_string());
        }
        if self.cert.is_some() != self.key.is_some() {
            return Err("--cert and --key go together".to_string());
        }
        urls.iter()
            .map(|url| {
                let mut c = ScrapeConfig::new(url.clone());
                c.job = self.job.clone().unwrap_or_else(|| default_job.to_string());
                c.extra_labels = default_labels
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect();
                c.extra_labels.extend(self.labels.iter().cloned());
                c.auth = match (&self.token, &self.token_file) {
                    (Some(t), _) => Auth::BearerToken(t.clone()),
                    (None, Some(f)) => Auth::BearerTokenFile(f.clone()),
                    (None, None) => Auth::None,
                };
                c.tls.ca_file = self.ca_file.clone();
                c.tls.cert_file = self.cert.clone();
                c.tls.key_file = self.key.clone();
                c.tls.insecure_skip_verify = self.insecure;
                c.timeout = self
                    .timeout
                    .unwrap_or(promlite::scrape::DEFAULT_TIMEOUT)
                    .min(self.interval);
                if let Some(b) = self.body_limit {
                    c.body_limit = b;
                }
                c.fallback_scrape_protocol = self.fallback;
                Scraper::new(c).map_err(|e| e.to_string())
            })
            .collect()
    }
}

/// What the last scrapes of one target did.
#[derive(Debug, Clone, Default)]
pub struct TargetStatus {
    /// Whether the last scrape succeeded (`None` before the first).
    pub up: Option<bool>,
    /// Successful scrapes so far.
    pub ok: usize,
    /// Failed scrapes so far.
    pub failed: usize,
    /// Samples in the last good body.
    pub samples: usize,
    /// Duration of the last scrape.
    pub duration: Duration,
    /// The last error, kept until a later scrape succeeds.
    pub last_error: Option<String>,
}

impl TargetStatus {
    fn record(&mut self, r: &Result<promlite::scrape::ScrapeReport, ScrapeError>, took: Duration) {
        self.duration = took;
        match r {
            Ok(rep) => {
                self.up = Some(true);
                self.ok += 1;
                self.samples = rep.ingest.samples_in_body;
                self.last_error = None;
            }
            Err(e) => {
                self.up = Some(false);
                self.failed += 1;
                self.last_error = Some(e.to_string());
            }
        }
    }
}

/// Scrapes every target once, concurrently (so one slow target does not delay the
/// others), at one timestamp; updates `status` and returns the results.
pub fn scrape_round(
    scrapers: &[Scraper],
    store: &Store,
    status: &mut [TargetStatus],
) -> Vec<Result<(), String>> {
    let ts = promlite::scrape::now_ms();
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = scrapers
            .iter()
            .map(|sc| {
                s.spawn(move || {
                    let started = Instant::now();
                    let r = sc.scrape(store, ts);
                    (r, started.elapsed())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    (
                        Err(ScrapeError::Config {
                            url: String::new(),
                            msg: "scrape thread panicked".to_string(),
                        }),
                        Duration::ZERO,
                    )
                })
            })
            .collect()
    });
    results
        .into_iter()
        .zip(status.iter_mut())
        .map(|((r, took), st)| {
            st.record(&r, took);
            r.map(|_| ()).map_err(|e| e.to_string())
        })
        .collect()
}

/// Sleeps until `start + n * interval` for the smallest such time in the future.
pub fn sleep_until_next(start: Instant, interval: Duration) {
    let elapsed = start.elapsed();
    let n = elapsed.as_nanos() / interval.as_nanos().max(1) + 1;
    let next = interval.saturating_mul(n.min(u32::MAX as u128) as u32);
    std::thread::sleep(next.saturating_sub(elapsed));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_help_line_is_indented() {
        // The help is printed under the command's own; each flag line starts
        // with two spaces, the first one too.
        for line in FLAGS_HELP.lines() {
            assert!(
                line.starts_with("  --") || line.starts_with("     "),
                "{line:?}"
            );
        }
    }

    #[test]
    fn fallback_protocol_flag_reaches_the_config() {
        let mut sa = ScrapeArgs::default();
        let args = ["--fallback-scrape-protocol", "PrometheusText0.0.4"];
        let mut p = lexopt::Parser::from_args(args);
        let Ok(Some(lexopt::Arg::Long(flag))) = p.next() else {
            panic!("a long flag");
        };
        let flag = flag.to_string();
        sa.take(&flag, &mut p).unwrap();
        let sc = sa
            .scrapers(&["http://127.0.0.1:9/m".to_string()], "j", &[])
            .unwrap();
        assert_eq!(
            sc[0].config().fallback_scrape_protocol,
            Some(promlite::expfmt::Format::Text)
        );
        let mut p = lexopt::Parser::from_args(["--fallback-scrape-protocol", "Proto"]);
        let _ = p.next();
        assert!(sa.take("fallback-scrape-protocol", &mut p).is_err());
    }
}
