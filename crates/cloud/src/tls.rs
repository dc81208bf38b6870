//! TLS failures on the way to the Cloud API: recognised in a transport error, and logged once per
//! condition (a refused certificate, a failed handshake) in the operator's words instead of once per
//! retry by the TLS library.

use std::error::Error;
use std::sync::Mutex;

use url::Url;

/// The TLS failure behind a transport error, if that is what it is (e.g. "invalid peer
/// certificate: UnknownIssuer").
pub fn failure_in(err: &(dyn Error + 'static)) -> Option<String> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        // An io::Error's source() skips the error it wraps (and hyper wraps one in another).
        current = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// The TLS condition last reported for one Cloud API endpoint.
#[derive(Debug, Default)]
pub struct TlsConditions {
    current: Mutex<Option<String>>,
}

impl TlsConditions {
    /// A request failed in TLS: logged when the condition is new.
    pub fn failed(&self, endpoint: &Url, condition: String) {
        let mut current = self.current.lock().expect("TLS conditions lock");
        if current.as_deref() != Some(condition.as_str()) {
            tracing::warn!(
                endpoint = %endpoint.origin().ascii_serialization(),
                %condition,
                "cannot establish a TLS connection to the Cloud API; retrying (logged again only when this changes)"
            );
            *current = Some(condition);
        }
    }

    /// A request got through: a reported condition has ended.
    pub fn succeeded(&self, endpoint: &Url) {
        let mut current = self.current.lock().expect("TLS conditions lock");
        if current.take().is_some() {
            tracing::info!(endpoint = %endpoint.origin().ascii_serialization(), "TLS connection to the Cloud API established again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_tls_error_directly_or_inside_an_io_error() {
        let direct = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        assert_eq!(failure_in(&direct).as_deref(), Some("invalid peer certificate: UnknownIssuer"));
        // As hyper reports it: an io::Error wrapping an io::Error wrapping the TLS error.
        let inner = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls::Error::InvalidCertificate(rustls::CertificateError::Expired));
        let wrapped = std::io::Error::other(inner);
        assert!(failure_in(&wrapped).is_some_and(|c| c.contains("Expired")));
        assert_eq!(failure_in(&std::io::Error::other("connection refused")), None);
    }
}
