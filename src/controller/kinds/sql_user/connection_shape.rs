//! The connection Secret in the shape `spec.connectionSecret` asks for: the standard keys under
//! their chosen names and the templated keys rendered. Pure, so every shape is unit-tested; the
//! errors name the field and never hold a value (the password is one).

use std::collections::BTreeMap;

use crate::api::connection_secret::{ConnectionSecretKeys, ConnectionSecretSpec, PLACEHOLDERS};

/// The spec's field that names a standard key, for messages.
fn keys_field(standard: &str) -> &'static str {
    match standard {
        "host" => "keys.host",
        "port" => "keys.port",
        "user" => "keys.user",
        "password" => "keys.password",
        "database" => "keys.database",
        "sslmode" => "keys.sslmode",
        "url" => "keys.url",
        _ => "keys.caCrt",
    }
}

/// Replaces every `{{name}}` of `template` with `values[name]`; an unknown name is an error naming
/// it. Text that is not a complete placeholder is kept as it is.
pub fn render(template: &str, values: &BTreeMap<&str, String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else { break };
        let name = &rest[start + 2..start + 2 + len];
        if name.contains('{') {
            // `{{{x}}`: the text up to the inner placeholder is literal.
            out.push_str(&rest[..start + 1]);
            rest = &rest[start + 1..];
            continue;
        }
        let value = values.get(name).ok_or_else(|| format!("unknown placeholder {{{{{name}}}}}; use one of {}", PLACEHOLDERS.iter().map(|p| format!("{{{{{p}}}}}")).collect::<Vec<_>>().join(", ")))?;
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The Secret's data: `standard` (the default shape, by standard key) with its keys renamed and
/// the templates added. `encoded` are the user and the password percent-encoded, for templates of
/// URLs. Two keys of the same name are an error naming the field.
pub fn shape(standard: BTreeMap<String, String>, encoded: (String, String), spec: Option<&ConnectionSecretSpec>) -> Result<BTreeMap<String, String>, String> {
    let Some(spec) = spec else { return Ok(standard) };
    let keys = spec.keys.clone().unwrap_or_default();
    let mut data = BTreeMap::new();
    for (key, name) in keys.names() {
        let value = standard.get(key).cloned().unwrap_or_default();
        if data.insert(name.clone(), value).is_some() {
            return Err(format!("spec.connectionSecret.{}: the key {name} is already used by another standard key", keys_field(key)));
        }
    }
    let mut values: BTreeMap<&str, String> = PLACEHOLDERS.iter().filter_map(|p| standard.get(*p).map(|v| (*p, v.clone()))).collect();
    values.insert("user_urlencoded", encoded.0);
    values.insert("password_urlencoded", encoded.1);
    for (key, template) in &spec.template {
        if data.contains_key(key) {
            return Err(format!("spec.connectionSecret.template.{key}: {key} is already a key of the connection Secret; choose another name (or rename the standard key in spec.connectionSecret.keys)"));
        }
        let value = render(template, &values).map_err(|why| format!("spec.connectionSecret.template.{key}: {why}"))?;
        data.insert(key.clone(), value);
    }
    Ok(data)
}

/// Checks a shape before anything is sent (its keys distinct, its placeholders known), with
/// stand-in values: the same errors [`shape`] would give once the real values are known.
pub fn validate(spec: Option<&ConnectionSecretSpec>) -> Result<(), String> {
    let standard = ["host", "port", "user", "password", "database", "sslmode", "url", "ca.crt"].into_iter().map(|k| (k.to_string(), String::new())).collect();
    shape(standard, (String::new(), String::new()), spec).map(|_| ())
}

/// The names the standard keys are written under (the default names when unset).
pub fn key_names(spec: Option<&ConnectionSecretSpec>) -> ConnectionSecretKeys {
    spec.and_then(|s| s.keys.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standard() -> BTreeMap<String, String> {
        [
            ("host", "db.example"),
            ("port", "26257"),
            ("user", "app"),
            ("password", "p@ss w"),
            ("database", "orders"),
            ("sslmode", "verify-full"),
            ("url", "postgresql://app:p%40ss%20w@db.example:26257/orders?sslmode=verify-full"),
            ("ca.crt", "PEM"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn encoded() -> (String, String) {
        ("app".into(), "p%40ss%20w".into())
    }

    fn spec(keys: ConnectionSecretKeys, template: &[(&str, &str)]) -> ConnectionSecretSpec {
        ConnectionSecretSpec { name: None, keys: Some(keys), template: template.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
    }

    #[test]
    fn a_shape_is_checked_before_any_value_is_known() {
        assert!(validate(None).is_ok());
        assert!(validate(Some(&spec(Default::default(), &[("DATABASE_URL", "{{url}}")]))).is_ok());
        let err = validate(Some(&spec(Default::default(), &[("user", "{{host}}")]))).unwrap_err();
        assert!(err.starts_with("spec.connectionSecret.template.user:"), "{err}");
        assert!(validate(Some(&spec(Default::default(), &[("X", "{{nope}}")]))).is_err());
    }

    #[test]
    fn unset_keeps_the_default_shape() {
        assert_eq!(shape(standard(), encoded(), None).unwrap(), standard());
        assert_eq!(shape(standard(), encoded(), Some(&ConnectionSecretSpec::default())).unwrap(), standard());
    }

    #[test]
    fn keys_are_renamed_and_templates_rendered() {
        let keys = ConnectionSecretKeys { host: Some("PGHOST".into()), password: Some("PGPASSWORD".into()), url: Some("DATABASE_URL".into()), ..Default::default() };
        let wanted = spec(keys, &[("JDBC_URL", "jdbc:postgresql://{{host}}:{{port}}/{{database}}?user={{user_urlencoded}}&password={{password_urlencoded}}"), ("RAW", "{{user}}:{{password}} {{sslmode}} {{x")]);
        let data = shape(standard(), encoded(), Some(&wanted)).unwrap();
        assert_eq!(data["PGHOST"], "db.example");
        assert_eq!(data["PGPASSWORD"], "p@ss w");
        assert_eq!(data["DATABASE_URL"], standard()["url"]);
        assert!(!data.contains_key("host") && !data.contains_key("password") && !data.contains_key("url"));
        assert_eq!(data["port"], "26257", "keys not renamed keep their names");
        assert_eq!(data["JDBC_URL"], "jdbc:postgresql://db.example:26257/orders?user=app&password=p%40ss%20w");
        assert_eq!(data["RAW"], "app:p@ss w verify-full {{x", "an unfinished placeholder is text");
        assert_eq!(data.len(), 10);
    }

    #[test]
    fn unknown_placeholders_and_key_clashes_name_the_field_and_no_value() {
        let err = shape(standard(), encoded(), Some(&spec(Default::default(), &[("DSN", "{{ host }}:{{pass}}")]))).unwrap_err();
        assert!(err.starts_with("spec.connectionSecret.template.DSN: unknown placeholder {{ host }}"), "{err}");
        let err = shape(standard(), encoded(), Some(&spec(Default::default(), &[("url", "{{host}}")]))).unwrap_err();
        assert!(err.starts_with("spec.connectionSecret.template.url:"), "{err}");
        let clash = ConnectionSecretKeys { host: Some("PG".into()), port: Some("PG".into()), ..Default::default() };
        let err = shape(standard(), encoded(), Some(&spec(clash, &[]))).unwrap_err();
        assert!(err.starts_with("spec.connectionSecret.keys.port: the key PG"), "{err}");
        let onto_standard = ConnectionSecretKeys { host: Some("port".into()), ..Default::default() };
        let err = shape(standard(), encoded(), Some(&spec(onto_standard, &[]))).unwrap_err();
        assert!(err.starts_with("spec.connectionSecret.keys.port: the key port"), "{err}");
        assert!(!err.contains("p@ss"), "an error holds a value: {err}");
        assert_eq!(render("{{{host}}", &[("host", "h".to_string())].into_iter().collect()).unwrap(), "{h");
    }
}
