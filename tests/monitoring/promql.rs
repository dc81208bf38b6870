//! Just enough reading of PromQL and of the Prometheus text format to hold the chart's rules and
//! dashboard to what the operator exports: which metric names and label names an expression uses,
//! and scrapes turned into promtool's `input_series`.

use std::collections::{BTreeMap, BTreeSet};

/// Metric names and label names one expression uses.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub metrics: BTreeSet<String>,
    /// Labels in matchers (`{kind="x"}`) and in `by (...)` / `without (...)` clauses.
    pub labels: BTreeSet<String>,
}

/// Names that are PromQL keywords or functions, not metrics (only those the rules and dashboard
/// can contain are needed; a metric is recognised by its prefix anyway).
fn is_metric(name: &str) -> bool {
    name.starts_with("crdb_operator_") || name.starts_with("kube_") || name == "up"
}

/// Scans `expr` for metric selectors and grouping clauses. Quoted strings are skipped, so a
/// regular expression such as `"5..|error"` is never taken for a name.
pub fn usage(expr: &str) -> Usage {
    let chars: Vec<char> = expr.chars().collect();
    let mut usage = Usage::default();
    let mut i = 0;
    let skip_space = |mut i: usize| {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        i
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i);
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = skip_space(i);
            if (word == "by" || word == "without") && chars.get(next) == Some(&'(') {
                let close = chars[next..].iter().position(|&c| c == ')').map(|p| next + p).unwrap_or(chars.len());
                let inside: String = chars[next + 1..close].iter().collect();
                usage.labels.extend(inside.split(',').map(|l| l.trim().to_string()).filter(|l| !l.is_empty()));
                i = close;
            } else if is_metric(&word) {
                usage.metrics.insert(word);
                if chars.get(next) == Some(&'{') {
                    i = matchers(&chars, next, &mut usage.labels);
                }
            }
        } else if c == '{' {
            // `{__name__=...}` or a selector without a name: its matchers still name labels.
            i = matchers(&chars, i, &mut usage.labels);
        } else {
            i += 1;
        }
    }
    usage
}

fn skip_string(chars: &[char], open: usize) -> usize {
    let quote = chars[open];
    let mut i = open + 1;
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' && quote != '`' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

/// Reads `{a="x", b=~"y"}` from `open` (the `{`); adds the label names; returns the index after `}`.
fn matchers(chars: &[char], open: usize, labels: &mut BTreeSet<String>) -> usize {
    let mut i = open + 1;
    let mut name = String::new();
    while i < chars.len() && chars[i] != '}' {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(chars, i);
            continue;
        }
        if c == '=' || c == '!' || c == '~' {
            if !name.trim().is_empty() {
                labels.insert(name.trim().to_string());
            }
            name.clear();
        } else if c == ',' {
            name.clear();
        } else {
            name.push(c);
        }
        i += 1;
    }
    i + 1
}

/// The labels a `{{ $labels.x }}` template in an annotation refers to.
pub fn template_labels(text: &str) -> BTreeSet<String> {
    text.split("$labels.")
        .skip(1)
        .map(|rest| rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect())
        .collect()
}

/// One series of a scrape: metric name and labels (sorted).
pub type SeriesKey = (String, BTreeMap<String, String>);

/// The samples of one scrape in the Prometheus (or OpenMetrics) text format.
pub fn parse_scrape(text: &str) -> BTreeMap<SeriesKey, f64> {
    let mut series = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (selector, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad metrics line {line:?}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let (name, labels) = match selector.split_once('{') {
            Some((name, rest)) => (name.to_string(), parse_labels(rest.strip_suffix('}').unwrap_or_else(|| panic!("bad labels in {line:?}")))),
            None => (selector.to_string(), BTreeMap::new()),
        };
        series.insert((name, labels), value);
    }
    series
}

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("bad label list {text:?}"));
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(if escaped == 'n' { '\n' } else { escaped });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.insert(name.trim().trim_start_matches(',').trim().to_string(), value);
        rest = after[end..].trim_start_matches(',').trim();
    }
    labels
}

/// `name{a="x",b="y"}` as promtool's `series:` wants it.
pub fn selector((name, labels): &SeriesKey) -> String {
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={}", serde_json::to_string(v).unwrap())).collect();
    format!("{name}{{{}}}", labels.join(","))
}

/// promtool `input_series` from consecutive scrapes, one sample per scrape (`_` where a series did
/// not exist yet), with `target` labels added as Prometheus adds the target's labels.
pub fn input_series(scrapes: &[BTreeMap<SeriesKey, f64>], target: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let all: BTreeSet<&SeriesKey> = scrapes.iter().flat_map(|s| s.keys()).collect();
    all.into_iter()
        .map(|key| {
            let mut labels = key.1.clone();
            labels.extend(target.iter().map(|(k, v)| (k.clone(), v.clone())));
            let values: Vec<String> = scrapes.iter().map(|s| s.get(key).map(|v| format!("{v}")).unwrap_or_else(|| "_".into())).collect();
            (selector(&(key.0.clone(), labels)), values.join(" "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn finds_metrics_matchers_and_grouping_labels() {
        let u = usage(
            r#"sum by (namespace, operation) (rate(crdb_operator_cloud_api_requests_total{namespace="ops",status=~"5..|error"}[10m]))
              / sum by (namespace, operation) (rate(crdb_operator_cloud_api_requests_total{namespace="ops"}[10m])) > 0.1"#,
        );
        assert_eq!(u.metrics, set(&["crdb_operator_cloud_api_requests_total"]));
        assert_eq!(u.labels, set(&["namespace", "operation", "status"]));
        let u = usage(r#"histogram_quantile(0.9, sum by (operation, le) (rate(crdb_operator_cloud_api_budget_wait_seconds_bucket{namespace=~"$namespace"}[$__rate_interval])))"#);
        assert_eq!(u.metrics, set(&["crdb_operator_cloud_api_budget_wait_seconds_bucket"]));
        assert_eq!(u.labels, set(&["operation", "le", "namespace"]));
        let u = usage(r#"(max by (namespace) (crdb_operator_leader{namespace="a"}) < 1) or absent(crdb_operator_leader{namespace="a"})"#);
        assert_eq!(u.metrics, set(&["crdb_operator_leader"]));
        let u = usage(r#"kube_deployment_status_replicas_available{namespace="a",deployment="b"} < kube_deployment_spec_replicas{namespace="a",deployment="b"}"#);
        assert_eq!(u.metrics, set(&["kube_deployment_status_replicas_available", "kube_deployment_spec_replicas"]));
        assert_eq!(u.labels, set(&["namespace", "deployment"]));
        // Names inside strings are not metrics.
        assert!(usage(r#"label_values(x, "crdb_operator_fake")"#).metrics.is_empty());
    }

    #[test]
    fn reads_label_templates() {
        assert_eq!(template_labels("{{ $labels.kind }} are Stalled ({{ $labels.reason }})"), set(&["kind", "reason"]));
        assert!(template_labels("no labels").is_empty());
    }

    #[test]
    fn parses_scrapes_and_writes_input_series() {
        let first = parse_scrape("# TYPE a counter\na_total{kind=\"SQLUser\",result=\"ready\"} 1\nb 2.5\n# EOF\n");
        let second = parse_scrape("a_total{result=\"ready\",kind=\"SQLUser\"} 3\nc{x=\"q\\\"uote\"} 1\n");
        assert_eq!(first.len(), 2);
        let target: BTreeMap<String, String> = [("namespace".to_string(), "ops".to_string())].into();
        let series = input_series(&[first, second], &target);
        assert_eq!(
            series,
            vec![
                (r#"a_total{kind="SQLUser",namespace="ops",result="ready"}"#.to_string(), "1 3".to_string()),
                (r#"b{namespace="ops"}"#.to_string(), "2.5 _".to_string()),
                (r#"c{namespace="ops",x="q\"uote"}"#.to_string(), "_ 1".to_string()),
            ]
        );
    }
}
