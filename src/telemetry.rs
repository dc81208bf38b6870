//! Logging set-up: text or JSON, level from `--log-level` or `RUST_LOG`.

use tracing_subscriber::EnvFilter;

/// Libraries that log every failed TLS handshake (at ERROR, with their source file paths): the
/// Cloud client reports TLS failures itself, once per condition (see `cloud::tls`). A directive
/// that names one of them explicitly wins.
const QUIET_TLS_LIBRARIES: [&str; 2] = ["rustls_platform_verifier", "rustls"];

fn with_quiet_tls_libraries(directives: &str) -> String {
    let mut all = directives.to_string();
    for library in QUIET_TLS_LIBRARIES {
        let named = directives.split(',').any(|d| d.trim().split(['=', '[']).next() == Some(library));
        if !named {
            all.push_str(&format!(",{library}=off"));
        }
    }
    all
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the global subscriber. `level` is an `EnvFilter` directive such as `info` or
/// `crdb_cloud_operator=debug`; `RUST_LOG` wins when set.
pub fn init(format: LogFormat, level: &str) {
    let directives = std::env::var("RUST_LOG").ok().filter(|d| !d.trim().is_empty()).unwrap_or_else(|| level.to_string());
    let filter = EnvFilter::new(with_quiet_tls_libraries(&directives));
    // Colour only on a terminal: `kubectl logs` and log files get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_libraries_are_quiet_unless_named() {
        assert_eq!(with_quiet_tls_libraries("info"), "info,rustls_platform_verifier=off,rustls=off");
        assert_eq!(with_quiet_tls_libraries("debug,rustls=trace"), "debug,rustls=trace,rustls_platform_verifier=off");
    }
}
