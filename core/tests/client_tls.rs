//! HTTPS goes through rustls with normal certificate verification: a server whose
//! certificate no trusted root signed never completes a handshake with the client.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chatsync::client::ErrorKind;
use chatsync::net::api::StaticToken;
use chatsync::{ChatSyncClient, ClientConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_rustls::rustls;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_certificate_is_rejected() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let server_config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key.into())
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let completed = handshakes.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let completed = completed.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    completed.fetch_add(1, Ordering::SeqCst);
                    let body = r#"{"chatMessages":[]}"#;
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.write_all(response.as_bytes()).await;
                }
            });
        }
    });
    let config = ClientConfig::new(format!("https://localhost:{port}"), None);
    let client = ChatSyncClient::new(config, Arc::new(StaticToken("secret".into()))).unwrap();
    let error = client.refresh_tickets().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Network, "{error}");
    assert!(
        error.to_string().contains("certificate"),
        "says why: {error}"
    );
    assert_eq!(
        handshakes.load(Ordering::SeqCst),
        0,
        "no handshake may complete"
    );
}
