//! The HTTP-independent part of `promlite serve`: routes one request (method, URL,
//! form body) to a Prometheus API answer. Query answers are built by `promlite eval`'s
//! own code (`crate::eval::answer`), so `serve` and `eval` cannot disagree.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use promlite::store::Store;
use promlite_model::{Labels, MatchOp, Matcher, Queryable};
use serde_json::{json, Map, Value};

use crate::eval::engine::{self, Settings};

/// What the server holds: the store, engine settings and its own counters.
#[derive(Debug)]
pub struct State {
    store: std::sync::Arc<Store>,
    settings: Settings,
    requests: AtomicU64,
    queries: AtomicU64,
    query_errors: AtomicU64,
    scrapes: AtomicU64,
    scrape_failures: AtomicU64,
    server: super::stats::ServerStats,
    /// Rules, remote_write senders and the receiver switch (`serve/rules.rs`,
    /// `serve/remote.rs`); set before the state is shared.
    pub wired: Wired,
}

/// What `serve` wires around the store besides queries.
#[derive(Debug, Default)]
pub struct Wired {
    /// The rule manager of `--rules`.
    pub rules: Option<super::rules::Rules>,
    /// The remote_write senders of `--remote-write.url`.
    pub writers: Vec<Arc<promlite_remote::RemoteWriter>>,
    /// Whether `POST /api/v1/write` is served.
    pub receiver: bool,
    /// Cap of a remote-write body in bytes (0: the default).
    pub max_write_body: usize,
}

impl State {
    /// A server over `store`.
    pub fn new(store: Store, settings: Settings) -> State {
        State {
            store: std::sync::Arc::new(store),
            settings,
            requests: AtomicU64::new(0),
            queries: AtomicU64::new(0),
            query_errors: AtomicU64::new(0),
            scrapes: AtomicU64::new(0),
            scrape_failures: AtomicU64::new(0),
            server: super::stats::ServerStats::default(),
            wired: Wired::default(),
        }
    }

    /// The HTTP server's counters, shown at `/metrics`.
    pub fn server_stats(&self) -> &super::stats::ServerStats {
        &self.server
    }

    /// The store the API reads (and `serve --scrape` writes).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The store, shared (for `serve --config`'s scrape manager).
    pub fn shared_store(&self) -> std::sync::Arc<Store> {
        std::sync::Arc::clone(&self.store)
    }

    /// Counts one scrape for `/metrics`.
    pub fn record_scrape(&self, ok: bool) {
        self.scrapes.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.scrape_failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One HTTP request, already read.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Upper-case method.
    pub method: &'a str,
    /// Path and query string.
    pub url: &'a str,
    /// The Content-Type header ("" when absent).
    pub content_type: &'a str,
    /// The Content-Encoding header ("" when absent).
    pub content_encoding: &'a str,
    /// The body (read only for POST).
    pub body: &'a [u8],
    /// "Now", for queries without `time`.
    pub now_ms: i64,
}

/// One HTTP answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Content-Type.
    pub content_type: &'static str,
    /// Body.
    pub body: Vec<u8>,
}

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

impl Response {
    /// A JSON answer.
    pub fn json(status: u16, v: &Value) -> Response {
        Response {
            status,
            content_type: JSON,
            body: serde_json::to_vec(v).unwrap_or_default(),
        }
    }

    /// Prometheus's success envelope around `data`.
    pub fn success(data: Value) -> Response {
        Response::json(200, &json!({"status": "success", "data": data}))
    }

    /// Prometheus's error envelope.
    pub fn error(status: u16, error_type: &str, msg: &str) -> Response {
        Response::json(
            status,
            &json!({"status": "error", "errorType": error_type, "error": msg}),
        )
    }

    /// 413 for a body over the limit.
    pub fn too_large(limit: u64) -> Response {
        Response::error(
            413,
            "bad_data",
            &format!("request body larger than {limit} bytes"),
        )
    }

    /// A plain-text answer.
    pub fn plain(status: u16, text: &str) -> Response {
        Response {
            status,
            content_type: TEXT,
            body: text.as_bytes().to_vec(),
        }
    }
}

/// The HTTP status Prometheus's API gives an error type.
pub fn status_for(error_type: &str) -> u16 {
    match error_type {
        "bad_data" | "oracle_input" => 400,
        "execution" => 422,
        "timeout" | "canceled" | "unavailable" => 503,
        "not_found" => 404,
        _ => 500,
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A duration given as seconds (`"15"`, `"0.5"`) or Prometheus syntax (`"1m30s"`).
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    promlite::params::parse_step_ms(s).ok()
}

/// Decodes `%XX` escapes in a URL path segment (`+` stays `+`, as in paths),
/// with the `percent-encoding` crate. `None` when an escape is malformed (Go's
/// `url.PathUnescape` refuses those; the crate would keep them as text) or the
/// result is not UTF-8.
pub fn percent_decode_path(s: &str) -> Option<String> {
    let malformed = s.match_indices('%').any(|(i, _)| {
        !s.get(i + 1..i + 3)
            .is_some_and(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
    });
    if malformed {
        return None;
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Form parameters in Go's `r.Form` order: the POST body's first, then the URL's.
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
    fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Routes one request.
pub fn handle(state: &State, req: &Request<'_>) -> Response {
    state.requests.fetch_add(1, Ordering::Relaxed);
    if let Some(r) = super::targets::route(req.method, req.url) {
        return r;
    }
    let (path, query) = req.url.split_once('?').unwrap_or((req.url, ""));
    let mut params = Vec::new();
    if req.method == "POST"
        && req
            .content_type
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    {
        params.extend(
            form_urlencoded::parse(req.body).map(|(k, v)| (k.into_owned(), v.into_owned())),
        );
    }
    params.extend(
        form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())),
    );
    let params = Params(params);
    if let Some(r) = super::rules::route(state.wired.rules.as_ref(), req, path, &params.0)
        .or_else(|| super::remote::route(&state.store, state.wired.receiver, req, path))
    {
        return r;
    }
    let get_or_post = matches!(req.method, "GET" | "POST");
    let get = req.method == "GET";
    let not_allowed = || Response::plain(405, "Method Not Allowed\n");
    match path {
        "/api/v1/query" | "/api/v1/query_range" if get_or_post => {
            query_endpoint(state, &params, path.ends_with("range"), req.now_ms)
        }
        "/api/v1/series" if get_or_post => series(state, &params),
        "/api/v1/labels" if get_or_post => labels(state, &params, None),
        "/api/v1/metadata" if get => metadata(state, &params),
        // No exemplars are stored; Grafana asks anyway.
        "/api/v1/query_exemplars" if get_or_post => Response::success(json!([])),
        "/-/healthy" | "/-/ready" if get => Response::plain(200, "promlite is ready.\n"),
        "/api/v1/status/buildinfo" if get => buildinfo(),
        "/metrics" if get => self_metrics(state),
        "/api/v1/query"
        | "/api/v1/query_range"
        | "/api/v1/series"
        | "/api/v1/labels"
        | "/api/v1/metadata"
        | "/api/v1/status/buildinfo"
        | "/api/v1/query_exemplars"
        | "/-/healthy"
        | "/-/ready"
        | "/metrics" => not_allowed(),
        p => match p
            .strip_prefix("/api/v1/label/")
            .and_then(|r| r.strip_suffix("/values"))
        {
            Some(name) if !name.contains('/') => {
                if !get {
                    return not_allowed();
                }
                match percent_decode_path(name) {
                    // Go's router matches the decoded path: `a%2Fb` is two segments.
                    Some(n) if n.contains('/') => Response::plain(404, "404 page not found\n"),
                    Some(n) if !n.is_empty() => labels(state, &params, Some(&n)),
                    _ => Response::error(400, "bad_data", &format!("invalid label name: {name:?}")),
                }
            }
            _ => Response::plain(404, "404 page not found\n"),
        },
    }
}

fn query_endpoint(state: &State, params: &Params, range: bool, now_ms: i64) -> Response {
    state.queries.fetch_add(1, Ordering::Relaxed);
    let s = |v: Option<&str>| Value::String(v.unwrap_or("").to_string());
    let mut q = Map::new();
    q.insert("expr".into(), s(params.get("query")));
    if range {
        q.insert("start".into(), s(params.get("start")));
        q.insert("end".into(), s(params.get("end")));
        q.insert("step".into(), s(params.get("step")));
    } else {
        let t = match params.get("time") {
            Some(t) if !t.is_empty() => Value::String(t.to_string()),
            _ => Value::String(format!("{}.{:03}", now_ms / 1000, now_ms % 1000)),
        };
        q.insert("time".into(), t);
    }
    if let Some(to) = params.get("timeout").filter(|t| !t.is_empty()) {
        // The request may shorten the server's --query.timeout, never lengthen it.
        let to = match (parse_duration_ms(to), state.settings.timeout) {
            (Some(ms), Some(max)) if ms > 0 && ms.unsigned_abs() > max.as_millis() as u64 => {
                let max = max.as_millis();
                format!("{}.{:03}", max / 1000, max % 1000)
            }
            _ => to.to_string(),
        };
        q.insert("timeout".into(), Value::String(to));
    }
    let (rec, _) = crate::eval::answer(
        &state.settings,
        &state.store,
        &Value::Object(q),
        crate::eval::Order::Auto,
    );
    // The same record `promlite eval` prints, without the echoed query.
    let mut out = Map::new();
    if let Value::Object(m) = rec {
        out.extend(m.into_iter().filter(|(k, _)| k != "query"));
    }
    let status = match out.get("errorType").and_then(Value::as_str) {
        Some(t) => {
            state.query_errors.fetch_add(1, Ordering::Relaxed);
            status_for(t)
        }
        None => 200,
    };
    Response::json(status, &Value::Object(out))
}

/// `start`/`end` of series, labels and label values (absent: all time).
fn time_range(params: &Params) -> Result<(i64, i64), Response> {
    let one = |k: &str, dflt: i64| -> Result<i64, Response> {
        match params.get(k).filter(|v| !v.is_empty()) {
            None => Ok(dflt),
            Some(v) => crate::eval::parse_time_ms(&Value::String(v.to_string())).ok_or_else(|| {
                Response::error(
                    400,
                    "bad_data",
                    &format!("invalid parameter {k:?}: cannot parse {v:?} to a valid timestamp"),
                )
            }),
        }
    };
    // Far enough from the i64 ends that window arithmetic cannot overflow.
    let (start, end) = (one("start", i64::MIN / 4)?, one("end", i64::MAX / 4)?);
    if end < start {
        return Err(Response::error(
            400,
            "bad_data",
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    Ok((start, end))
}

/// `limit` of series, labels and label values (absent or 0: none).
fn limit(params: &Params) -> Result<Option<usize>, Response> {
    match params.get("limit").filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => match v.parse::<usize>() {
            Ok(0) => Ok(None),
            Ok(n) => Ok(Some(n)),
            Err(_) => Err(Response::error(
                400,
                "bad_data",
                &format!("invalid parameter \"limit\": cannot parse {v:?} to a valid limit"),
            )),
        },
    }
}

/// Success with at most `limit` items, warning (as Prometheus 3 does) when cut.
fn limited(mut items: Vec<Value>, limit: Option<usize>) -> Response {
    match limit {
        Some(n) if items.len() > n => {
            items.truncate(n);
            Response::json(
                200,
                &json!({"status": "success", "data": items,
                        "warnings": ["results truncated due to limit"]}),
            )
        }
        _ => Response::success(Value::Array(items)),
    }
}

/// The matcher sets of `match[]`, each a single series selector.
fn match_sets(state: &State, params: &Params) -> Result<Vec<Vec<Matcher>>, Response> {
    let mut out = Vec::new();
    for m in params.all("match[]") {
        let bad = |msg: &str| {
            Response::error(
                400,
                "bad_data",
                &format!("invalid parameter \"match[]\": {msg}"),
            )
        };
        let expr = engine::parse(&state.settings, m).map_err(|e| bad(&e.message))?;
        match expr.kind {
            promlite::promql::ExprKind::VectorSelector(v) => out.push(v.matchers),
            _ => return Err(bad(&format!("{m:?} is not a series selector"))),
        }
    }
    Ok(out)
}

/// Labels of every series matching one of `sets` with a sample in `[start, end]`.
fn matching_series(
    state: &State,
    sets: &[Vec<Matcher>],
    start: i64,
    end: i64,
) -> Result<BTreeSet<Labels>, Response> {
    let mut found = BTreeSet::new();
    for ms in sets {
        let got = state
            .store
            .select(ms, start, end)
            .map_err(|e| Response::error(422, "execution", &e.to_string()))?;
        found.extend(got.into_iter().map(|s| s.labels));
    }
    Ok(found)
}

fn series(state: &State, params: &Params) -> Response {
    let run = || -> Result<Response, Response> {
        let sets = match_sets(state, params)?;
        if sets.is_empty() {
            return Err(Response::error(
                400,
                "bad_data",
                "no match[] parameter provided",
            ));
        }
        let (start, end) = time_range(params)?;
        let limit = limit(params)?;
        let found = matching_series(state, &sets, start, end)?;
        let data: Vec<Value> = found
            .iter()
            .map(|l| {
                let m: Map<String, Value> = l
                    .iter()
                    .map(|lab| (lab.name.to_string(), json!(&*lab.value)))
                    .collect();
                Value::Object(m)
            })
            .collect();
        Ok(limited(data, limit))
    };
    run().unwrap_or_else(|e| e)
}

/// `/api/v1/labels` (names) when `name` is None, else that label's values.
fn labels(state: &State, params: &Params, name: Option<&str>) -> Response {
    let run = || -> Result<Response, Response> {
        let mut sets = match_sets(state, params)?;
        if sets.is_empty() {
            let all = Matcher::new(MatchOp::RegexMatch, "__name__", ".+")
                .map_err(|e| Response::error(500, "internal", &e.to_string()))?;
            sets.push(vec![all]);
        }
        let (start, end) = time_range(params)?;
        let limit = limit(params)?;
        let found = matching_series(state, &sets, start, end)?;
        let mut out = BTreeSet::new();
        for l in &found {
            match name {
                None => out.extend(l.iter().map(|lab| lab.name.to_string())),
                Some(n) => out.extend(l.get(n).map(str::to_string)),
            }
        }
        Ok(limited(out.into_iter().map(Value::String).collect(), limit))
    };
    run().unwrap_or_else(|e| e)
}

fn metadata(state: &State, params: &Params) -> Response {
    let limit = match params.get("limit").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n > 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            Ok(_) => None,
            Err(_) => {
                return Response::error(400, "bad_data", &format!("limit must be a number: {v:?}"))
            }
        },
    };
    let metric = params.get("metric").filter(|m| !m.is_empty());
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for m in state.store.metadata() {
        if metric.is_some_and(|f| f != m.family) {
            continue;
        }
        let entry = json!({
            "type": m.typ.map_or("unknown", |t| t.as_str()),
            "help": m.help.unwrap_or_default(),
            "unit": m.unit.unwrap_or_default(),
        });
        let v = out.entry(m.family).or_default();
        if !v.contains(&entry) {
            v.push(entry);
        }
    }
    let data: Map<String, Value> = out
        .into_iter()
        .take(limit.unwrap_or(usize::MAX))
        .map(|(k, v)| (k, Value::Array(v)))
        .collect();
    Response::success(Value::Object(data))
}

fn buildinfo() -> Response {
    Response::success(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "revision": "unknown",
        "branch": "unknown",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "none (promlite is written in Rust)",
    }))
}

fn self_metrics(state: &State) -> Response {
    let st = state.store.stats();
    let mut t = String::new();
    let mut one = |name: &str, typ: &str, help: &str, v: u64| {
        t.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {typ}\n{name} {v}\n"
        ));
    };
    let ld = |a: &AtomicU64| a.load(Ordering::Relaxed);
    one(
        "promlite_http_requests_total",
        "counter",
        "HTTP requests received.",
        ld(&state.requests),
    );
    one(
        "promlite_queries_total",
        "counter",
        "Instant and range queries served.",
        ld(&state.queries),
    );
    one(
        "promlite_query_errors_total",
        "counter",
        "Queries answered with an error.",
        ld(&state.query_errors),
    );
    one(
        "promlite_scrapes_total",
        "counter",
        "Scrapes of --scrape targets.",
        ld(&state.scrapes),
    );
    one(
        "promlite_scrape_failures_total",
        "counter",
        "Scrapes of --scrape targets that failed.",
        ld(&state.scrape_failures),
    );
    one(
        "promlite_store_series",
        "gauge",
        "Series in the store.",
        st.series as u64,
    );
    one(
        "promlite_store_samples",
        "gauge",
        "Samples in the store.",
        st.samples as u64,
    );
    t.push_str(&scrape_sample_counters(&state.store));
    t.push_str(&state.server.render());
    if let Some(r) = &state.wired.rules {
        t.push_str(&r.metrics_text());
    }
    t.push_str(&super::remote::writers_metrics(&state.wired.writers));
    Response {
        status: 200,
        content_type: "text/plain; version=0.0.4; charset=utf-8",
        body: t.into_bytes(),
    }
}

/// Samples the scrapes did not append, summed over targets, under
/// Prometheus 3's names: a series repeated within one scrape counts as a
/// duplicate timestamp there, as in Prometheus.
fn scrape_sample_counters(store: &Store) -> String {
    let (mut dup, mut ooo) = (0u64, 0u64);
    for (_, c) in store.target_counters() {
        dup += c.duplicate_timestamp + c.repeated_in_scrape;
        ooo += c.out_of_order;
    }
    let mut t = String::new();
    for (name, help, v) in [
        (
            "promlite_target_scrapes_sample_duplicate_timestamp_total",
            "Samples dropped: a different value at the series' newest time, or the series repeated within one scrape.",
            dup,
        ),
        (
            "promlite_target_scrapes_sample_out_of_order_total",
            "Samples dropped: older than the series' newest sample.",
            ooo,
        ),
    ] {
        t.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n"
        ));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::data::SeriesData;

    /// Two series of `up` and one of `http_requests_total` (counter, +60 per minute).
    fn state() -> State {
        let mut d = SeriesData::default();
        let l = |p: &[(&str, &str)]| Labels::from_pairs(p.iter().copied());
        for i in 0..5i64 {
            let t = i * 60_000;
            d.add(l(&[("__name__", "up"), ("job", "a")]), t, 1.0);
            d.add(l(&[("__name__", "up"), ("job", "b")]), t, 0.0);
            d.add(
                l(&[("__name__", "http_requests_total"), ("code", "200")]),
                t,
                (i * 60) as f64,
            );
        }
        State::new(d.into_storage().unwrap(), Settings::default())
    }

    fn get(s: &State, url: &str) -> (u16, Value) {
        let r = handle(
            s,
            &Request {
                method: "GET",
                url,
                content_type: "",
                content_encoding: "",
                body: b"",
                now_ms: 240_000,
            },
        );
        (
            r.status,
            serde_json::from_slice(&r.body).unwrap_or(Value::Null),
        )
    }

    #[test]
    fn instant_query_get_and_post_form() {
        let s = state();
        let (st, v) = get(&s, "/api/v1/query?query=sum%28up%29&time=240");
        assert_eq!(st, 200);
        // 1 + 0 at t=240s.
        assert_eq!(
            v,
            json!({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[240,"1"]}]}})
        );
        let r = handle(
            &s,
            &Request {
                method: "POST",
                url: "/api/v1/query",
                content_type: "application/x-www-form-urlencoded",
                content_encoding: "",
                body: b"query=rate(http_requests_total%5B2m%5D)+*+2&time=1970-01-01T00%3A04%3A00Z",
                now_ms: 0,
            },
        );
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(r.status, 200, "{v}");
        // rate over (120s, 240s]: samples at 180 s and 240 s, 60 apart, increase 60,
        // extrapolated to the 120 s window -> 120 / 120 = 1/s; times 2 = 2.
        assert_eq!(v["data"]["result"][0]["value"], json!([240, "2"]));
        // Default time is "now".
        let (st, v) = get(&s, "/api/v1/query?query=time()");
        assert_eq!((st, &v["data"]["result"]), (200, &json!([240, "240"])));
    }

    #[test]
    fn range_query_and_errors() {
        let s = state();
        let (st, v) = get(
            &s,
            "/api/v1/query_range?query=up%7Bjob%3D%22a%22%7D&start=0&end=120&step=1m",
        );
        assert_eq!(st, 200);
        assert_eq!(
            v["data"]["result"][0]["values"],
            json!([[0, "1"], [60, "1"], [120, "1"]])
        );
        let (st, v) = get(&s, "/api/v1/query?query=sum(&time=1");
        assert_eq!((st, v["errorType"].as_str()), (400, Some("bad_data")));
        assert!(v["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid parameter \"query\""));
        let (st, v) = get(&s, "/api/v1/query_range?query=up&start=0&end=10");
        assert_eq!(st, 400);
        assert_eq!(
            v["error"],
            "invalid parameter \"step\": cannot parse \"\" to a valid duration"
        );
        let (st, _) = get(&s, "/api/v1/query?query=up&time=soon");
        assert_eq!(st, 400);
        let (st, v) = get(&s, "/api/v1/query?query=up&time=0&timeout=later");
        assert_eq!(
            (st, v["error"].as_str()),
            (
                400,
                Some("invalid parameter \"timeout\": cannot parse \"later\" to a valid duration")
            )
        );
        let (st, _) = get(&s, "/api/v1/query?query=up&time=0&timeout=30s");
        assert_eq!(st, 200);
        // Many-to-many matching is an execution error (422 in Prometheus).
        let (st, v) = get(&s, "/api/v1/query?query=up+%2B+on%28%29+up&time=0");
        assert_eq!(
            (st, v["errorType"].as_str()),
            (422, Some("execution")),
            "{v}"
        );
    }

    #[test]
    fn series_labels_values_metadata() {
        let s = state();
        let (st, v) = get(
            &s,
            "/api/v1/series?match[]=up&match%5B%5D=up%7Bjob%3D%22b%22%7D",
        );
        assert_eq!(st, 200);
        assert_eq!(
            v["data"],
            json!([{"__name__":"up","job":"a"},{"__name__":"up","job":"b"}])
        );
        let (st, v) = get(&s, "/api/v1/series");
        assert_eq!(
            (st, v["error"].as_str()),
            (400, Some("no match[] parameter provided"))
        );
        let (st, _) = get(&s, "/api/v1/series?match[]=rate(up[1m])");
        assert_eq!(st, 400);
        let (st, v) = get(&s, "/api/v1/series?match[]=%7Bjob%3D~%22(a%7Cc)%22%7D");
        assert_eq!(
            (st, &v["data"]),
            (200, &json!([{"__name__":"up","job":"a"}])),
            "regex with parens"
        );
        let (st, v) = get(&s, "/api/v1/series?match[]=up&limit=1");
        assert_eq!(st, 200);
        assert_eq!(v["data"], json!([{"__name__":"up","job":"a"}]));
        assert_eq!(v["warnings"], json!(["results truncated due to limit"]));
        let (_, v) = get(&s, "/api/v1/label/job/values?limit=5");
        assert_eq!((&v["data"], v.get("warnings")), (&json!(["a", "b"]), None));
        let (st, _) = get(&s, "/api/v1/labels?limit=-1");
        assert_eq!(st, 400);
        let (_, v) = get(&s, "/api/v1/labels");
        assert_eq!(v["data"], json!(["__name__", "code", "job"]));
        let (_, v) = get(&s, "/api/v1/labels?match[]=up");
        assert_eq!(v["data"], json!(["__name__", "job"]));
        let (_, v) = get(&s, "/api/v1/label/__name__/values");
        assert_eq!(v["data"], json!(["http_requests_total", "up"]));
        let (_, v) = get(&s, "/api/v1/label/job/values?start=500&end=600");
        assert_eq!(v["data"], json!([]), "no samples after 240 s");
        let (st, v) = get(&s, "/api/v1/metadata");
        assert_eq!(
            (st, &v["data"]),
            (200, &json!({})),
            "SeriesData has no # TYPE"
        );
        let (st, v) = get(&s, "/api/v1/status/buildinfo");
        assert_eq!(
            (st, &v["data"]["version"]),
            (200, &json!(env!("CARGO_PKG_VERSION")))
        );
    }

    #[test]
    fn unknown_paths_methods_and_self_metrics() {
        let s = state();
        assert_eq!(get(&s, "/api/v1/nope").0, 404);
        assert_eq!(get(&s, "/api/v1/label/a/b/values").0, 404);
        assert_eq!(
            get(&s, "/api/v1/label/a%2Fb/values").0,
            404,
            "as Prometheus 2.42"
        );
        assert_eq!(
            get(&s, "/api/v1/query_exemplars?query=up").1["data"],
            json!([])
        );
        assert_eq!(get(&s, "/-/ready").0, 200);
        let r = handle(
            &s,
            &Request {
                method: "DELETE",
                url: "/api/v1/query?query=up",
                content_type: "",
                content_encoding: "",
                body: b"",
                now_ms: 0,
            },
        );
        assert_eq!(r.status, 405);
        get(&s, "/api/v1/query?query=up&time=0");
        get(&s, "/api/v1/query?query=(&time=0");
        let r = handle(
            &s,
            &Request {
                method: "GET",
                url: "/metrics",
                content_type: "",
                content_encoding: "",
                body: b"",
                now_ms: 0,
            },
        );
        let text = String::from_utf8(r.body).unwrap();
        assert!(text.contains("\npromlite_queries_total 2\n"), "{text}");
        assert!(
            text.contains("\npromlite_target_scrapes_sample_duplicate_timestamp_total 0\n"),
            "{text}"
        );
        assert!(text.contains("\npromlite_query_errors_total 1\n"), "{text}");
        assert!(text.contains("\npromlite_store_series 3\n"), "{text}");
        assert!(text.contains("\npromlite_store_samples 15\n"), "{text}");
    }

    #[test]
    fn path_decoding() {
        assert_eq!(percent_decode_path("a%2Fb+c").as_deref(), Some("a/b+c"));
        assert_eq!(percent_decode_path("%C3%A9").as_deref(), Some("é"));
        assert_eq!(percent_decode_path("%zz"), None);
        assert_eq!(percent_decode_path("%4"), None);
        assert_eq!(percent_decode_path("%+1"), None);
        assert_eq!(percent_decode_path("%FF"), None, "not UTF-8");
    }

    #[test]
    fn self_metrics_count_series_repeated_in_a_scrape() {
        let store = Store::new(promlite::store::StoreConfig::default());
        let tgt = promlite::store::Target::from_pairs([("job", "j")]);
        let fmt = promlite::store::Format::Text;
        store.ingest_scrape(&tgt, b"a 1\na 2\n", fmt, 1000).unwrap();
        // Another value at the newest time: Prometheus counts it the same way.
        store.ingest_scrape(&tgt, b"a 5\n", fmt, 1000).unwrap();
        let s = State::new(store, Settings::default());
        let r = handle(
            &s,
            &Request {
                method: "GET",
                url: "/metrics",
                content_type: "",
                content_encoding: "",
                body: b"",
                now_ms: 0,
            },
        );
        let text = String::from_utf8(r.body).unwrap();
        assert!(
            text.contains("\npromlite_target_scrapes_sample_duplicate_timestamp_total 2\n"),
            "{text}"
        );
    }

    #[test]
    fn a_malformed_time_is_400_bad_data() {
        let s = state();
        // `+1é00` where the offset's colon goes: once a panic, so a 500.
        let (st, v) = get(
            &s,
            "/api/v1/query?query=up&time=2024-01-01T00:00:00%2B1%C3%A900",
        );
        assert_eq!(st, 400, "{v}");
        assert_eq!(v["errorType"], "bad_data");
        let (st, _) = get(
            &s,
            "/api/v1/query?query=up&time=2024-01-01T00:00:00%2B01:00",
        );
        assert_eq!(st, 200);
    }
}
