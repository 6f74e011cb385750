//! One error type for programs that use several stages of promlite.
//!
//! Each crate of the pipeline has its own precise error (an exposition
//! [`ParseError`](crate::expfmt::ParseError) with line and column, a store
//! [`IngestError`](crate::store::IngestError), a PromQL
//! [`ParseError`](crate::promql::ParseError) or
//! [`QueryError`](crate::promql::QueryError), a
//! [`ConfigError`](crate::config::ConfigError), ...). [`Error`] wraps any of them
//! so that one function can use `?` across stages; [`Error::kind`] says which
//! stage failed, and [`Error::get_ref`] / [`Error::downcast_ref`] reach the
//! crate's own error with all its detail.
//!
//! Like [`std::io::Error`] made from a custom error, an [`Error`] displays as the
//! wrapped error does (so the message keeps its position) and its
//! [`source`](std::error::Error::source) is the wrapped error's source: a chain
//! printer shows every cause once.

use std::fmt;

/// The error type of the facade: any promlite stage's error, opaque, with a
/// [`kind`](Error::kind).
///
/// ```
/// use promlite::expfmt::Format;
/// use promlite::promql::{Engine, EngineOptions};
/// use promlite::store::{Store, StoreConfig, Target};
/// use promlite::{Error, ErrorKind};
///
/// fn up_sum(body: &str, query: &str) -> Result<f64, Error> {
///     let store = Store::new(StoreConfig::default());
///     let target = Target::from_pairs([("job", "node")]);
///     // An ingest error and a query error both convert with `?`.
///     store.ingest_scrape(&target, body.as_bytes(), Format::Text, 1_000)?;
///     let engine = Engine::new(EngineOptions::default());
///     let res = engine.instant_query(&store, query, 1_000)?;
///     Ok(res.value.as_vector().map_or(0.0, |v| v.iter().map(|s| s.v).sum()))
/// }
///
/// assert_eq!(up_sum("up 1\n", "sum(up)")?, 1.0);
///
/// let bad_body = up_sum("up{ 1\n", "sum(up)").unwrap_err();
/// assert_eq!(bad_body.kind(), ErrorKind::Ingest);
/// assert!(bad_body.to_string().contains("line 1"), "{bad_body}");
///
/// let bad_query = up_sum("up 1\n", "sum(up").unwrap_err();
/// assert_eq!(bad_query.kind(), ErrorKind::Query);
/// let inner = bad_query.downcast_ref::<promlite::promql::QueryError>().unwrap();
/// assert_eq!(inner.kind(), promlite::promql::QueryErrorKind::Parse);
/// # Ok::<(), Error>(())
/// ```
pub struct Error {
    kind: ErrorKind,
    inner: Box<dyn std::error::Error + Send + Sync + 'static>,
}

/// Which stage an [`Error`] comes from.
///
/// New kinds may be added: match with a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An exposition body does not parse ([`expfmt::ParseError`](crate::expfmt::ParseError)).
    Exposition,
    /// The store rejected a scrape or a batch ([`store::IngestError`](crate::store::IngestError)).
    Ingest,
    /// A PromQL expression does not parse ([`promql::ParseError`](crate::promql::ParseError)).
    PromqlParse,
    /// A query failed ([`promql::QueryError`](crate::promql::QueryError); its own
    /// [`kind`](crate::promql::QueryError::kind) says how).
    Query,
    /// A label matcher's regex does not compile ([`model::MatcherError`](crate::model::MatcherError)).
    Matcher,
    /// A store selection failed ([`model::SelectError`](crate::model::SelectError)).
    Select,
    /// A configuration file is wrong ([`config::ConfigError`](crate::config::ConfigError))
    /// or a file_sd file cannot be read
    /// ([`config::discovery::DiscoveryError`](crate::config::discovery::DiscoveryError)).
    Config,
    /// A rule file is wrong ([`rules::rulefmt::RuleError`](crate::rules::rulefmt::RuleError),
    /// one or several).
    Rules,
    /// A rule template does not parse or execute
    /// ([`rules::template::TemplateError`](crate::rules::template::TemplateError)).
    Template,
    /// A query parameter (time, duration, step) does not parse
    /// ([`params::ParamError`](crate::params::ParamError)).
    Param,
    /// A scrape failed (`scrape::ScrapeError`, with the cargo feature `scrape`).
    Scrape,
}

impl Error {
    fn new(kind: ErrorKind, inner: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error {
            kind,
            inner: Box::new(inner),
        }
    }

    /// Which stage failed.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stage's own error (an [`IngestError`](crate::store::IngestError), a
    /// [`QueryError`](crate::promql::QueryError), ...).
    pub fn get_ref(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.inner
    }

    /// The stage's own error as `E`, when it is one.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.inner.downcast_ref::<E>()
    }

    /// The stage's own error, owned.
    pub fn into_inner(self) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self.inner
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("inner", &self.inner)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

macro_rules! from_stage {
    ($($ty:ty => $kind:ident),* $(,)?) => {
        $(
            impl From<$ty> for Error {
                fn from(e: $ty) -> Self {
                    Error::new(ErrorKind::$kind, e)
                }
            }
        )*
    };
}

from_stage! {
    promlite_expfmt::ParseError => Exposition,
    promlite_store::IngestError => Ingest,
    promlite_promql::ParseError => PromqlParse,
    promlite_promql::QueryError => Query,
    promlite_model::MatcherError => Matcher,
    promlite_model::SelectError => Select,
    promlite_config::ConfigError => Config,
    promlite_config::discovery::DiscoveryError => Config,
    promlite_rules::rulefmt::RuleError => Rules,
    promlite_rules::template::TemplateError => Template,
    crate::params::ParamError => Param,
}

#[cfg(feature = "scrape")]
from_stage! {
    promlite_scrape::ScrapeError => Scrape,
}

/// Every error of a rule file ([`parse_rule_file`](crate::rules::rulefmt::parse_rule_file)
/// reports them all), one per line.
#[derive(Debug)]
struct RuleErrors(Vec<promlite_rules::rulefmt::RuleError>);

impl fmt::Display for RuleErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            fmt::Display::fmt(e, f)?;
        }
        Ok(())
    }
}

impl std::error::Error for RuleErrors {}

impl From<Vec<promlite_rules::rulefmt::RuleError>> for Error {
    /// All of a rule file's errors; a single one is kept as itself (so
    /// [`Error::downcast_ref`] finds the `RuleError`).
    fn from(mut errs: Vec<promlite_rules::rulefmt::RuleError>) -> Self {
        if errs.len() == 1 {
            return Error::new(ErrorKind::Rules, errs.remove(0));
        }
        Error::new(ErrorKind::Rules, RuleErrors(errs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn ingest_error_keeps_its_message_kind_and_source() {
        let store = promlite_store::Store::new(promlite_store::StoreConfig::default());
        let target = promlite_store::Target::from_pairs([("job", "x")]);
        let ingest = store
            .ingest_scrape(&target, b"up{ 1\n", promlite_expfmt::Format::Text, 0)
            .unwrap_err();
        let text = ingest.to_string();
        let expfmt_source = ingest.source().map(|s| s.to_string());
        let e = Error::from(ingest);
        assert_eq!(e.kind(), ErrorKind::Ingest);
        assert_eq!(e.to_string(), text);
        // The chain continues below the wrapped error without repeating it.
        assert_eq!(e.source().map(|s| s.to_string()), expfmt_source);
        assert!(expfmt_source.is_some());
        assert!(e.downcast_ref::<promlite_store::IngestError>().is_some());
        assert!(e.downcast_ref::<promlite_expfmt::ParseError>().is_none());
    }

    #[test]
    fn each_stage_maps_to_its_kind() {
        let parse = promlite_promql::parse("sum(").unwrap_err();
        assert_eq!(Error::from(parse).kind(), ErrorKind::PromqlParse);
        let cfg = promlite_config::Config::from_yaml("global: [", "p.yml", None).unwrap_err();
        assert_eq!(Error::from(cfg).kind(), ErrorKind::Config);
        let rules = promlite_rules::rulefmt::parse_rule_file(
            "groups:\n- name: g\n  rules:\n  - record: a-b\n    expr: up\n  - record: c-d\n    expr: up\n",
        )
        .unwrap_err();
        let n = rules.len();
        let e = Error::from(rules);
        assert_eq!(e.kind(), ErrorKind::Rules);
        assert_eq!(e.to_string().lines().count(), n);
        let step = crate::params::parse_step_ms("x").unwrap_err();
        assert_eq!(Error::from(step).kind(), ErrorKind::Param);
    }

    #[test]
    fn error_is_send_sync_static() {
        fn check<T: Send + Sync + 'static>() {}
        check::<Error>();
    }
}
