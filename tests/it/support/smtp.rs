//! A loopback SMTP server for the e-mail tests: ESMTP with STARTTLS (a CA and a `localhost`
//! certificate made for each server, the CA written to a PEM file for `SES_SMTP_CA_FILE`),
//! `AUTH PLAIN`/`AUTH LOGIN` against one username and password, and a [`Mode`] that decides
//! how it answers a message: accept it, refuse it for good (5xx), refuse it for now (4xx), or
//! drop the connection before answering. It keeps every accepted message as sent.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        self, ServerConfig,
        pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    },
};

/// The username the server accepts.
pub const USERNAME: &str = "smtp-user-AKIAEXAMPLE";
/// The password the server accepts.
pub const PASSWORD: &str = "smtp-password-0123456789";

/// How the server answers the end of a message's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `250`: taken.
    Accept,
    /// `554` at `RCPT TO`: refused for good.
    Refuse,
    /// `451` after the data: try again later.
    TryLater,
    /// The connection is closed after the data, before any answer.
    Drop,
}

/// What the server saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Messages it answered `250` to, as sent (headers and body, dot-unstuffed).
    pub accepted: Vec<String>,
    /// Messages (data sections) it did not take.
    pub refused: usize,
    /// Sessions that upgraded with STARTTLS and authenticated.
    pub secure_logins: usize,
    /// Commands that arrived before STARTTLS other than EHLO/HELO/STARTTLS/QUIT.
    pub plaintext_commands: Vec<String>,
}

/// A running server.
pub struct FakeSmtp {
    /// Its port on 127.0.0.1 (the certificate names `localhost`).
    pub port: u16,
    /// The CA's certificate, as a PEM file.
    pub ca_file: PathBuf,
    /// TLS from the first byte (SMTPS) rather than STARTTLS.
    implicit: bool,
    mode: Arc<Mutex<Mode>>,
    seen: Arc<Mutex<Seen>>,
    _dir: tempfile_dir::TempDir,
}

/// A directory removed on drop (no extra crate for it).
mod tempfile_dir {
    use std::path::PathBuf;

    pub struct TempDir(pub PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl FakeSmtp {
    /// Starts a server that accepts messages.
    pub async fn start() -> FakeSmtp {
        Self::start_with(false).await
    }

    /// A server that speaks TLS from the first byte (SMTPS, as on SES's port 465).
    pub async fn start_implicit_tls() -> FakeSmtp {
        Self::start_with(true).await
    }

    async fn start_with(implicit: bool) -> FakeSmtp {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "onegraph test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().expect("server key");
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("server params");
        let cert = params.signed_by(&key, &issuer).expect("server certificate");

        let dir = std::env::temp_dir().join(format!("onegraph-smtp-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca_cert.pem()).expect("write CA");

        let config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .expect("TLS config");
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mode = Arc::new(Mutex::new(Mode::Accept));
        let seen = Arc::new(Mutex::new(Seen::default()));
        {
            let (mode, seen) = (mode.clone(), seen.clone());
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (acceptor, mode, seen) = (acceptor.clone(), mode.clone(), seen.clone());
                    tokio::spawn(async move {
                        let _ = if implicit {
                            implicit_session(stream, acceptor, mode, seen).await
                        } else {
                            session(stream, acceptor, mode, seen).await
                        };
                    });
                }
            });
        }
        FakeSmtp {
            port,
            ca_file,
            implicit,
            mode,
            seen,
            _dir: tempfile_dir::TempDir(dir),
        }
    }

    /// Answers the next messages so.
    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// The accepted messages so far.
    pub fn accepted(&self) -> Vec<String> {
        self.seen.lock().unwrap().accepted.clone()
    }

    /// Data sections not taken so far (refused, deferred or dropped).
    pub fn refused(&self) -> usize {
        self.seen.lock().unwrap().refused
    }

    /// Sessions that upgraded to TLS and authenticated.
    pub fn secure_logins(&self) -> usize {
        self.seen.lock().unwrap().secure_logins
    }

    /// Commands sent in plain text other than the greeting and STARTTLS.
    pub fn plaintext_commands(&self) -> Vec<String> {
        self.seen.lock().unwrap().plaintext_commands.clone()
    }

    /// The settings that point onegraph's SES transport at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SES_FROM_ADDRESS", "portal@example.com".to_owned()),
            ("SES_REGION", "eu-west-1".to_owned()),
            ("SES_SMTP_USERNAME", USERNAME.to_owned()),
            ("SES_SMTP_PASSWORD", PASSWORD.to_owned()),
            ("SES_SMTP_HOST", "localhost".to_owned()),
            ("SES_SMTP_PORT", self.port.to_string()),
            ("SES_SMTP_CA_FILE", self.ca_file.display().to_string()),
            (
                "SES_SMTP_TLS",
                if self.implicit { "wrapper" } else { "starttls" }.to_owned(),
            ),
        ]
    }
}

async fn write<S: AsyncWrite + Unpin>(stream: &mut S, text: &str) -> std::io::Result<()> {
    stream.write_all(text.as_bytes()).await?;
    stream.flush().await
}

async fn session(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    mode: Arc<Mutex<Mode>>,
    seen: Arc<Mutex<Seen>>,
) -> std::io::Result<()> {
    let mut plain = BufReader::new(stream);
    write(plain.get_mut(), "220 localhost fake ESMTP\r\n").await?;
    // Before STARTTLS: only EHLO/HELO, STARTTLS and QUIT.
    loop {
        let mut line = String::new();
        if plain.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => write(plain.get_mut(), "250-localhost\r\n250 STARTTLS\r\n").await?,
            "HELO" => write(plain.get_mut(), "250 localhost\r\n").await?,
            "STARTTLS" => {
                write(plain.get_mut(), "220 ready for TLS\r\n").await?;
                break;
            }
            "QUIT" => {
                write(plain.get_mut(), "221 bye\r\n").await?;
                return Ok(());
            }
            _ => {
                seen.lock().unwrap().plaintext_commands.push(command);
                write(plain.get_mut(), "530 must issue STARTTLS first\r\n").await?;
            }
        }
    }
    let tls = acceptor.accept(plain.into_inner()).await?;
    secure(BufReader::new(tls), mode, seen).await
}

async fn implicit_session(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    mode: Arc<Mutex<Mode>>,
    seen: Arc<Mutex<Seen>>,
) -> std::io::Result<()> {
    let mut tls = BufReader::new(acceptor.accept(stream).await?);
    write(tls.get_mut(), "220 localhost fake ESMTPS\r\n").await?;
    secure(tls, mode, seen).await
}

async fn secure<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: BufReader<S>,
    mode: Arc<Mutex<Mode>>,
    seen: Arc<Mutex<Seen>>,
) -> std::io::Result<()> {
    let mut authenticated = false;
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let mut words = command.split_whitespace();
        let verb = words.next().unwrap_or_default().to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => {
                write(
                    stream.get_mut(),
                    "250-localhost\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n",
                )
                .await?
            }
            "AUTH" => {
                let method = words.next().unwrap_or_default().to_ascii_uppercase();
                let ok = match method.as_str() {
                    "PLAIN" => {
                        let payload = match words.next() {
                            Some(p) => p.to_owned(),
                            None => {
                                write(stream.get_mut(), "334 \r\n").await?;
                                let mut p = String::new();
                                stream.read_line(&mut p).await?;
                                p.trim_end().to_owned()
                            }
                        };
                        let decoded = STANDARD.decode(payload).unwrap_or_default();
                        decoded == format!("\0{USERNAME}\0{PASSWORD}").into_bytes()
                    }
                    "LOGIN" => {
                        write(stream.get_mut(), "334 VXNlcm5hbWU6\r\n").await?;
                        let mut user = String::new();
                        stream.read_line(&mut user).await?;
                        write(stream.get_mut(), "334 UGFzc3dvcmQ6\r\n").await?;
                        let mut password = String::new();
                        stream.read_line(&mut password).await?;
                        STANDARD.decode(user.trim_end()).unwrap_or_default() == USERNAME.as_bytes()
                            && STANDARD.decode(password.trim_end()).unwrap_or_default()
                                == PASSWORD.as_bytes()
                    }
                    _ => false,
                };
                if ok {
                    authenticated = true;
                    seen.lock().unwrap().secure_logins += 1;
                    write(stream.get_mut(), "235 authenticated\r\n").await?;
                } else {
                    write(stream.get_mut(), "535 authentication failed\r\n").await?;
                }
            }
            "MAIL" | "RCPT" | "DATA" if !authenticated => {
                write(stream.get_mut(), "530 authentication required\r\n").await?
            }
            "MAIL" => write(stream.get_mut(), "250 sender ok\r\n").await?,
            "RCPT" => {
                if *mode.lock().unwrap() == Mode::Refuse {
                    seen.lock().unwrap().refused += 1;
                    write(stream.get_mut(), "554 recipient refused\r\n").await?;
                } else {
                    write(stream.get_mut(), "250 recipient ok\r\n").await?;
                }
            }
            "DATA" => {
                write(stream.get_mut(), "354 go ahead\r\n").await?;
                let mut message = String::new();
                loop {
                    let mut data = String::new();
                    if stream.read_line(&mut data).await? == 0 {
                        return Ok(());
                    }
                    if data == ".\r\n" {
                        break;
                    }
                    // Dot-unstuffing.
                    message.push_str(data.strip_prefix('.').unwrap_or(&data));
                }
                let current = *mode.lock().unwrap();
                match current {
                    Mode::Accept => {
                        seen.lock().unwrap().accepted.push(message);
                        write(stream.get_mut(), "250 queued\r\n").await?;
                    }
                    Mode::TryLater | Mode::Refuse => {
                        seen.lock().unwrap().refused += 1;
                        write(stream.get_mut(), "451 try again later\r\n").await?;
                    }
                    Mode::Drop => {
                        seen.lock().unwrap().refused += 1;
                        return Ok(());
                    }
                }
            }
            "RSET" | "NOOP" => write(stream.get_mut(), "250 ok\r\n").await?,
            "QUIT" => {
                write(stream.get_mut(), "221 bye\r\n").await?;
                return Ok(());
            }
            _ => write(stream.get_mut(), "502 not implemented\r\n").await?,
        }
    }
}
