//! Certificates and kubeconfigs for the test control plane: envtest's PKI layout, client
//! certificates for users and groups, and kubeconfig files.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

pub(crate) struct Pki {
    pub(crate) ca_cert: PathBuf,
    pub(crate) serving_cert: PathBuf,
    pub(crate) serving_key: PathBuf,
    pub(crate) client_ca_cert: PathBuf,
    pub(crate) client_ca_key: PathBuf,
    pub(crate) client_ca: Issuer<'static, KeyPair>,
    pub(crate) admin_cert: PathBuf,
    pub(crate) admin_key: PathBuf,
    pub(crate) sa_key: PathBuf,
    pub(crate) sa_pub: PathBuf,
}

impl Pki {
    /// envtest's layout: a serving CA, a client CA (admin = `CN=admin,O=system:masters`) and a
    /// ServiceAccount signing key pair; ECDSA P-256 throughout.
    pub(crate) fn generate(dir: &Path) -> Result<Pki, String> {
        Self::generate_with_sans(dir, &[])
    }

    /// As [`Pki::generate`], the serving certificate also valid for `extra_sans` (e.g. the test
    /// node's IP and its `kubernetes` Service address).
    pub(crate) fn generate_with_sans(dir: &Path, extra_sans: &[&str]) -> Result<Pki, String> {
        let pki = dir.join("pki");
        fs::create_dir_all(&pki).map_err(|e| format!("create {}: {e}", pki.display()))?;
        let e = |e: rcgen::Error| format!("generate certificates: {e}");

        let (ca_pem, ca_key_pem, ca) = new_ca("testenv-serving-ca").map_err(e)?;
        let serving_key = KeyPair::generate().map_err(e)?;
        let mut serving = CertificateParams::new(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "10.0.0.1".to_string(),
            "kubernetes".to_string(),
            "kubernetes.default".to_string(),
            "kubernetes.default.svc".to_string(),
            "kubernetes.default.svc.cluster.local".to_string(),
        ]
        .into_iter()
        .chain(extra_sans.iter().map(|s| s.to_string()))
        .collect::<Vec<_>>())
        .map_err(e)?;
        serving.distinguished_name = dn("localhost", &[]);
        serving.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let serving_cert = serving.signed_by(&serving_key, &ca).map_err(e)?;

        let (client_ca_pem, client_ca_key_pem, client_ca) =
            new_ca("testenv-client-ca").map_err(e)?;
        let admin_key = KeyPair::generate().map_err(e)?;
        let mut admin = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
        admin.distinguished_name = dn("admin", &["system:masters"]);
        admin.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let admin_cert = admin.signed_by(&admin_key, &client_ca).map_err(e)?;

        let sa = KeyPair::generate().map_err(e)?;

        let out = Pki {
            ca_cert: pki.join("ca.crt"),
            serving_cert: pki.join("apiserver.crt"),
            serving_key: pki.join("apiserver.key"),
            client_ca_cert: pki.join("client-ca.crt"),
            client_ca_key: pki.join("client-ca.key"),
            client_ca,
            admin_cert: pki.join("admin.crt"),
            admin_key: pki.join("admin.key"),
            sa_key: pki.join("sa.key"),
            sa_pub: pki.join("sa.pub"),
        };
        write_file(&out.ca_cert, &ca_pem);
        write_file(&pki.join("ca.key"), &ca_key_pem);
        write_file(&out.serving_cert, &serving_cert.pem());
        write_file(&out.serving_key, &serving_key.serialize_pem());
        write_file(&out.client_ca_cert, &client_ca_pem);
        write_file(&out.client_ca_key, &client_ca_key_pem);
        write_file(&out.admin_cert, &admin_cert.pem());
        write_file(&out.admin_key, &admin_key.serialize_pem());
        write_file(&out.sa_key, &sa.serialize_pem());
        write_file(&out.sa_pub, &sa.public_key_pem());
        Ok(out)
    }
}

/// A self-signed CA: its certificate PEM, key PEM and an issuer for signing.
fn new_ca(cn: &str) -> Result<(String, String, Issuer<'static, KeyPair>), rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = dn(cn, &["crdb-testenv"]);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key)?;
    let key_pem = key.serialize_pem();
    Ok((cert.pem(), key_pem, Issuer::new(params, key)))
}

fn dn(cn: &str, orgs: &[&str]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    if let Some(o) = orgs.first() {
        dn.push(DnType::OrganizationName, *o);
    }
    dn
}

pub(crate) enum UserAuth<'a> {
    Cert(&'a Path, &'a Path),
    Token(&'a str),
}

pub(crate) fn kubeconfig_yaml(server: &str, ca: &Path, user: &str, auth: UserAuth<'_>) -> String {
    let auth = match auth {
        UserAuth::Cert(cert, key) => format!(
            "    client-certificate: {}\n    client-key: {}\n",
            quote(&cert.display().to_string()),
            quote(&key.display().to_string())
        ),
        UserAuth::Token(token) => format!("    token: {}\n", quote(token)),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: testenv\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: {}\n  user:\n{auth}contexts:\n- name: testenv\n  context:\n    cluster: testenv\n    user: {}\n    namespace: default\ncurrent-context: testenv\n",
        quote(server),
        quote(&ca.display().to_string()),
        quote(user),
        quote(user),
    )
}

/// A YAML (JSON) double-quoted string.
fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("serialize a string")
}

pub(crate) fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub(crate) fn write_file(path: &Path, contents: &str) {
    fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Writes `client.crt` and `client.key` into `dir`: a client certificate for `user` (`CN=user`,
/// `O=group`) signed by `client_ca`. At most two groups (the certificate library keeps one value
/// per attribute type; the second group is written under the same OID with a distinct key).
pub(crate) fn write_user_certificate(
    dir: &Path,
    client_ca: &Issuer<'static, KeyPair>,
    user: &str,
    groups: &[&str],
) -> (PathBuf, PathBuf) {
    let key = KeyPair::generate().expect("generate a user key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("certificate params");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, user);
    if let Some(g) = groups.first() {
        dn.push(DnType::OrganizationName, *g);
    }
    if let Some(g) = groups.get(1) {
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 10]), *g);
    }
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, client_ca).expect("sign the user certificate");
    let (cert_path, key_path) = (dir.join("client.crt"), dir.join("client.key"));
    write_file(&cert_path, &cert.pem());
    write_file(&key_path, &key.serialize_pem());
    (cert_path, key_path)
}
