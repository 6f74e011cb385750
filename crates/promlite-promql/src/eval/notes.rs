//! A query's warning or info annotations: distinct messages in first-seen order.
//!
//! A query can produce one message per evaluation step (`limit_ratio` over a
//! time-varying ratio warns with each value), and a subquery can have millions of
//! steps; finding a repeat by scanning the list made that quadratic, and a query
//! hung for minutes with its timeout never checked (found by the `promql_eval_ast`
//! fuzz target). Membership here is a hash lookup.

use std::collections::HashSet;

/// Distinct messages, in the order first seen.
#[derive(Debug, Default)]
pub(crate) struct Notes {
    list: Vec<String>,
    seen: HashSet<String>,
}

impl Notes {
    /// True when `msg` was recorded already.
    pub(crate) fn contains(&self, msg: &String) -> bool {
        self.seen.contains(msg)
    }

    /// Records `msg` (the caller checked [`Notes::contains`]; a repeat is ignored).
    pub(crate) fn push(&mut self, msg: String) {
        if self.seen.insert(msg.clone()) {
            self.list.push(msg);
        }
    }

    /// How many messages are recorded.
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// Forgets every message after the first `n`.
    pub(crate) fn truncate(&mut self, n: usize) {
        for m in self.list.drain(n.min(self.list.len())..) {
            self.seen.remove(&m);
        }
    }

    /// Keeps the messages `keep` accepts.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&String) -> bool) {
        let seen = &mut self.seen;
        self.list.retain(|m| {
            let k = keep(m);
            if !k {
                seen.remove(m);
            }
            k
        });
    }
}

impl From<Notes> for Vec<String> {
    fn from(n: Notes) -> Self {
        n.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_first_seen_order_and_forgets_truncated() {
        let mut n = Notes::default();
        for m in ["a", "b", "a", "c"] {
            if !n.contains(&m.to_string()) {
                n.push(m.to_string());
            }
        }
        assert_eq!(n.len(), 3);
        n.truncate(1);
        assert!(!n.contains(&"b".to_string()));
        n.push("b".to_string());
        n.retain(|m| m != "a");
        assert_eq!(Vec::from(n), vec!["b".to_string()]);
    }

    #[test]
    fn many_distinct_messages_stay_fast() {
        // 200,000 distinct messages: quadratic scanning took minutes here.
        let mut n = Notes::default();
        for i in 0..200_000 {
            let m = format!("PromQL warning: ratio value should be between -1 and 1, got {i}");
            if !n.contains(&m) {
                n.push(m);
            }
        }
        assert_eq!(n.len(), 200_000);
    }
}
