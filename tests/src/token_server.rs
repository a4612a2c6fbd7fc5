//! A bearer-token issuer for distribution's `auth: token` mode (what Quay, Harbor or
//! docker_auth do for real registries): `GET /token?service=..&scope=..` with Basic
//! credentials answers a JWT (ES256, `x5c` header) granting the scopes asked for. The
//! registry itself stays the real one; it verifies these tokens against the issuer's
//! certificate.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// The service name the registry and the tokens agree on.
pub const SERVICE: &str = "mirror-test-registry";
/// The token issuer.
pub const ISSUER: &str = "mirror-test-token-issuer";

/// A running token server on `127.0.0.1:<port>`.
#[derive(Debug)]
pub struct TokenServer {
    /// `http://127.0.0.1:<port>/token`.
    pub realm: String,
    /// PEM certificate of the signing key (the registry's `rootcertbundle`).
    pub cert_pem: String,
    /// Token requests served, and the scopes of each (for assertions).
    pub requests: Arc<std::sync::Mutex<Vec<Vec<String>>>>,
    /// Requests refused for bad credentials.
    pub refused: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TokenServer {
    /// Starts an issuer that accepts `user`/`password` (and issues empty tokens to anonymous
    /// callers, as real issuers do). Call inside a tokio runtime.
    pub async fn start(user: &str, password: &str) -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("token key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "mirror-test token signer");
        let cert = params.self_signed(&key).expect("self-sign token cert");
        let signer = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
        )
        .expect("signer");
        let x5c = STANDARD.encode(cert.der());
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind token server");
        let realm = format!("http://{}/token", listener.local_addr().expect("addr"));
        let expected = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let refused = Arc::new(AtomicUsize::new(0));
        let (reqs, refs) = (requests.clone(), refused.clone());
        let signer = Arc::new(signer);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    break;
                };
                let (signer, x5c, expected, reqs, refs) = (
                    signer.clone(),
                    x5c.clone(),
                    expected.clone(),
                    reqs.clone(),
                    refs.clone(),
                );
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut b = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 << 10 {
                        if conn.read(&mut b).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(b[0]);
                    }
                    let text = String::from_utf8_lossy(&head).to_string();
                    let target = text.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let auth = text.lines().find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("authorization")
                            .then(|| v.trim().to_string())
                    });
                    let url = url::Url::parse(&format!("http://x{target}")).expect("url");
                    let scopes: Vec<String> = url
                        .query_pairs()
                        .filter(|(k, _)| k == "scope")
                        .map(|(_, v)| v.to_string())
                        .collect();
                    let response = match auth.as_deref() {
                        Some(a) if a != expected => {
                            refs.fetch_add(1, Ordering::SeqCst);
                            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 60\r\nConnection: close\r\n\r\n{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"bad password\"}]}".to_string()
                        }
                        a => {
                            let granted = if a.is_some() {
                                scopes.clone()
                            } else {
                                Vec::new()
                            };
                            reqs.lock().unwrap_or_else(|p| p.into_inner()).push(scopes);
                            let token = jwt(&signer, &x5c, &granted);
                            let body = format!("{{\"token\":\"{token}\",\"expires_in\":300}}");
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                body.len()
                            )
                        }
                    };
                    let _ = conn.write_all(response.as_bytes()).await;
                });
            }
        });
        Self {
            realm,
            cert_pem: cert.pem(),
            requests,
            refused,
            task,
        }
    }
}

fn jwt(signer: &aws_lc_rs::signature::EcdsaKeyPair, x5c: &str, scopes: &[String]) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .filter_map(|s| {
            let mut parts = s.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            Some(serde_json::json!({ "type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>() }))
        })
        .collect();
    let header = serde_json::json!({ "typ": "JWT", "alg": "ES256", "x5c": [x5c] });
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": "mirror", "aud": SERVICE,
        "exp": now + 300, "nbf": now - 10, "iat": now - 10,
        "jti": format!("{now}-{}", rand::random::<u64>()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let sig = signer.sign(&rng, signing_input.as_bytes()).expect("sign");
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}
