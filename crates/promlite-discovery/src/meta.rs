//! Label helpers shared by the roles: the `__meta_kubernetes_` prefix, label-name
//! sanitising, object metadata labels and `host:port` joining.

use crate::objects::ObjectMeta;

/// Every Kubernetes meta label starts with this.
pub(crate) const PREFIX: &str = "__meta_kubernetes_";

/// The label pairs of a target or group before they become [`promlite_model::Labels`]:
/// later pairs overwrite earlier ones with the same name.
pub(crate) type Pairs = Vec<(String, String)>;

/// Sets `name` to `value` in `pairs`, replacing an earlier value.
pub(crate) fn set(pairs: &mut Pairs, name: impl Into<String>, value: impl Into<String>) {
    let name = name.into();
    let value = value.into();
    match pairs.iter_mut().find(|(n, _)| *n == name) {
        Some(slot) => slot.1 = value,
        None => pairs.push((name, value)),
    }
}

/// Sets `__meta_kubernetes_<suffix>`.
pub(crate) fn set_meta(pairs: &mut Pairs, suffix: &str, value: impl Into<String>) {
    set(pairs, format!("{PREFIX}{suffix}"), value);
}

/// Copies every pair of `from` into `into`, overwriting (Go's `LabelSet.Merge`).
pub(crate) fn merge(into: &mut Pairs, from: Pairs) {
    for (n, v) in from {
        set(into, n, v);
    }
}

/// A Kubernetes label or annotation key as a Prometheus label-name suffix: every
/// character outside `[a-zA-Z0-9_]` becomes `_` (one per character, as Prometheus's
/// `strutil.SanitizeLabelName` does on runes).
pub(crate) fn sanitize(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `<resource>_name`, and `<resource>_label_*`, `_labelpresent_*`, `_annotation_*`,
/// `_annotationpresent_*` for every label and annotation of `meta`.
pub(crate) fn object_meta_labels(pairs: &mut Pairs, meta: &ObjectMeta, resource: &str) {
    set_meta(pairs, &format!("{resource}_name"), meta.name.as_str());
    labels_and_annotations(pairs, meta, resource);
}

/// The label and annotation pairs of [`object_meta_labels`] without the name.
pub(crate) fn labels_and_annotations(pairs: &mut Pairs, meta: &ObjectMeta, resource: &str) {
    for (k, v) in &meta.labels {
        let k = sanitize(k);
        set_meta(pairs, &format!("{resource}_label_{k}"), v.as_str());
        set_meta(pairs, &format!("{resource}_labelpresent_{k}"), "true");
    }
    for (k, v) in &meta.annotations {
        let k = sanitize(k);
        set_meta(pairs, &format!("{resource}_annotation_{k}"), v.as_str());
        set_meta(pairs, &format!("{resource}_annotationpresent_{k}"), "true");
    }
}

/// `host:port`, with an IPv6 host in brackets (Go's `net.JoinHostPort`).
pub(crate) fn join_host_port(host: &str, port: i32) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_replaces_each_invalid_character() {
        assert_eq!(sanitize("prometheus.io/scrape"), "prometheus_io_scrape");
        assert_eq!(sanitize("app.kubernetes.io/name"), "app_kubernetes_io_name");
        assert_eq!(sanitize("tier"), "tier");
        // One underscore per character, multi-byte or not.
        assert_eq!(sanitize("é-x"), "__x");
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        assert_eq!(join_host_port("10.0.0.1", 8080), "10.0.0.1:8080");
        assert_eq!(join_host_port("fd00::1", 443), "[fd00::1]:443");
    }
}
