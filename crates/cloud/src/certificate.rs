//! X.509 certificates in PEM, as the client CA operations take them: checked before they are sent
//! (and by the simulator before it accepts them), so a bad certificate is named, not guessed at.

/// How many certificates `pem` holds: at least one, every PEM block a certificate that parses as
/// X.509. `Err`: why it is not that.
pub fn check_pem(pem: &str) -> Result<usize, String> {
    let mut found = 0;
    for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|e| format!("not a PEM certificate ({e})"))?;
        if block.label != "CERTIFICATE" {
            return Err(format!("a PEM block labelled {:?} is not a certificate", block.label));
        }
        block.parse_x509().map_err(|e| format!("the certificate does not parse as X.509 ({e})"))?;
        found += 1;
    }
    if found == 0 {
        return Err("no PEM certificate (-----BEGIN CERTIFICATE-----) found".into());
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_BODY: &str = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

    #[test]
    fn what_is_not_a_certificate_is_named() {
        assert!(check_pem("hello").unwrap_err().contains("no PEM certificate"));
        assert!(check_pem(EMPTY_BODY).unwrap_err().contains("X.509"));
        let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(check_pem(key).unwrap_err().contains("not a certificate"));
    }
}
