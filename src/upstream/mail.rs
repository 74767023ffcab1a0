//! E-mail: SES's SMTP interface (`email-smtp.{SES_REGION}.amazonaws.com:587`, or
//! `SES_SMTP_HOST`:`SES_SMTP_PORT`; STARTTLS required, or TLS from the first byte on SES's
//! wrapper ports 465 and 2465 or with `SES_SMTP_TLS=wrapper`; the server's certificate checked
//! against the public roots and `SES_SMTP_CA_FILE`; `SES_SMTP_USERNAME`/`SES_SMTP_PASSWORD`,
//! from `SES_FROM_ADDRESS`) when SES is fully configured; otherwise each message is written
//! as an `.eml` file into `MAIL_DIR`, the embedded default for development. The transport is
//! chosen once, at start-up.

use std::{path::PathBuf, sync::Arc};

use async_trait::async_trait;
use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
    transport::smtp::{
        authentication::Credentials,
        client::{Certificate, Tls, TlsParameters},
    },
};

use crate::config::{Settings, SmtpTls};

/// The sender of file-transport mail when `SES_FROM_ADDRESS` is unset.
pub const LOCAL_FROM: &str = "onegraph@localhost";

/// Why a message was not sent: onegraph's own short description (what the outbox records),
/// never the mail server's reply text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The message cannot be built (a bad address); retrying will not help.
    #[error("mail: invalid message ({0})")]
    InvalidMessage(&'static str),
    /// The SMTP server did not answer in time.
    #[error("mail: SMTP timed out")]
    Timeout,
    /// The SMTP exchange failed, with the server's reply code when there was one.
    #[error("mail: SMTP send failed{}", .0.map(|c| format!(" (reply {c})")).unwrap_or_default())]
    Smtp(Option<u16>),
    /// The `.eml` file could not be written.
    #[error("mail: writing the .eml file into MAIL_DIR failed")]
    File,
}

impl MailError {
    /// Whether retrying cannot succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(self, MailError::InvalidMessage(_))
    }
}

/// Sends plain-text e-mail.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// `"ses-smtp"` or `"file"`, for logs and health checks.
    fn transport(&self) -> &'static str;
    /// Sends one message to `to`.
    async fn send(&self, to: &str, subject: &str, text: &str) -> Result<(), MailError>;
}

/// The SES settings that are missing (all four are needed for SMTP).
pub fn missing_ses_settings(settings: &Settings) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if settings.ses_from_address.is_none() {
        missing.push("SES_FROM_ADDRESS");
    }
    if settings.ses_region.is_none() {
        missing.push("SES_REGION");
    }
    if settings.ses_smtp_username.is_none() {
        missing.push("SES_SMTP_USERNAME");
    }
    if settings.ses_smtp_password.is_none() {
        missing.push("SES_SMTP_PASSWORD");
    }
    missing
}

/// Checks that SES, when every one of its settings is set, can be used with them: the
/// server refuses to start otherwise, rather than write set-password links to disk while
/// the operator believes mail is sent.
pub fn check_settings(settings: &Settings) -> Result<(), &'static str> {
    if missing_ses_settings(settings).is_empty() {
        SesMailer::new(settings)?;
    }
    Ok(())
}

/// The mailer the settings call for: SES over SMTP when it is fully configured (and its
/// settings are valid, which `serve` checks first with [`check_settings`]), else the `.eml`
/// file transport into `MAIL_DIR`.
pub fn from_settings(settings: &Settings) -> Arc<dyn Mailer> {
    let missing = missing_ses_settings(settings);
    if missing.is_empty() {
        match SesMailer::new(settings) {
            Ok(mailer) => return Arc::new(mailer),
            Err(reason) => tracing::error!(
                reason,
                "SES settings are unusable; writing mail to MAIL_DIR instead"
            ),
        }
    } else if missing.len() < 4 {
        tracing::warn!(
            missing = ?missing,
            "SES is partly configured; writing mail to MAIL_DIR until every SES setting is set"
        );
    }
    Arc::new(FileMailer::new(settings))
}

fn build(from: &Mailbox, to: &str, subject: &str, text: &str) -> Result<Message, MailError> {
    let to: Mailbox = to
        .parse()
        .map_err(|_| MailError::InvalidMessage("recipient address"))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        // A fresh `<uuid@host>` Message-ID: mail servers and clients expect one.
        .message_id(None)
        .header(ContentType::TEXT_PLAIN)
        .body(text.to_owned())
        .map_err(|_| MailError::InvalidMessage("message"))
}

/// SES through its SMTP interface (pooled connections, STARTTLS required).
pub struct SesMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SesMailer {
    /// Builds the transport; fails with a reason (no secret in it) on invalid settings.
    pub fn new(settings: &Settings) -> Result<Self, &'static str> {
        let (Some(from), Some(region), Some(user), Some(password)) = (
            settings.ses_from_address.as_deref(),
            settings.ses_region.as_deref(),
            settings.ses_smtp_username.as_ref(),
            settings.ses_smtp_password.as_ref(),
        ) else {
            return Err("SES settings missing");
        };
        let from: Mailbox = from
            .parse()
            .map_err(|_| "SES_FROM_ADDRESS is not an e-mail address")?;
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err("SES_REGION is not a region name");
        }
        let host = settings
            .ses_smtp_host
            .clone()
            .unwrap_or_else(|| format!("email-smtp.{region}.amazonaws.com"));
        let mut tls = TlsParameters::builder(host.clone());
        if let Some(file) = &settings.ses_smtp_ca_file {
            let pem = std::fs::read(file).map_err(|_| "SES_SMTP_CA_FILE cannot be read")?;
            let certs = pem_certificates(&pem);
            if certs.is_empty() {
                return Err("SES_SMTP_CA_FILE holds no PEM certificate");
            }
            for cert in certs {
                let cert = Certificate::from_pem(cert.as_bytes())
                    .map_err(|_| "SES_SMTP_CA_FILE holds a certificate that does not parse")?;
                tls = tls.add_root_certificate(cert);
            }
        }
        let tls = tls
            .build_rustls()
            .map_err(|_| "TLS parameters for the SMTP host could not be built")?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
            .tls(match settings.ses_smtp_tls {
                SmtpTls::StartTls => Tls::Required(tls),
                SmtpTls::Wrapper => Tls::Wrapper(tls),
            })
            .port(settings.ses_smtp_port)
            .credentials(Credentials::new(
                user.expose().to_owned(),
                password.expose().to_owned(),
            ))
            .timeout(Some(settings.upstream_timeout))
            .build();
        Ok(Self { transport, from })
    }
}

#[async_trait]
impl Mailer for SesMailer {
    fn transport(&self) -> &'static str {
        "ses-smtp"
    }

    async fn send(&self, to: &str, subject: &str, text: &str) -> Result<(), MailError> {
        let message = build(&self.from, to, subject, text)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|err| {
                if err.is_timeout() {
                    MailError::Timeout
                } else {
                    MailError::Smtp(err.status().map(u16::from))
                }
            })
    }
}

/// The PEM blocks of certificates in `pem`, each as its own PEM text.
fn pem_certificates(pem: &[u8]) -> Vec<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = String::from_utf8_lossy(pem);
    let mut certs = Vec::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find(BEGIN) {
        let Some(end) = rest[start..].find(END) else {
            break;
        };
        let end = start + end + END.len();
        certs.push(format!("{}\n", &rest[start..end]));
        rest = &rest[end..];
    }
    certs
}

/// Each message as `<uuid>.eml` in a directory.
pub struct FileMailer {
    transport: AsyncFileTransport<Tokio1Executor>,
    dir: PathBuf,
    from: Mailbox,
}

impl FileMailer {
    /// Writes into `MAIL_DIR` (created now when missing), from `SES_FROM_ADDRESS` or
    /// [`LOCAL_FROM`].
    pub fn new(settings: &Settings) -> Self {
        let dir = PathBuf::from(&settings.mail_dir);
        if let Err(err) = std::fs::create_dir_all(&dir) {
            // Sends fail (and are retried) until the directory can be written.
            tracing::error!(%err, dir = %dir.display(), "cannot create MAIL_DIR");
        }
        let from = settings
            .ses_from_address
            .as_deref()
            .and_then(|a| a.parse::<Mailbox>().ok())
            .unwrap_or_else(|| Mailbox::new(None, local_from()));
        Self {
            transport: AsyncFileTransport::new(&dir),
            dir,
            from,
        }
    }

    /// The directory messages are written to.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

fn local_from() -> lettre::Address {
    LOCAL_FROM
        .parse()
        .unwrap_or_else(|_| lettre::Address::new_dangerous("onegraph", "localhost"))
}

#[async_trait]
impl Mailer for FileMailer {
    fn transport(&self) -> &'static str {
        "file"
    }

    async fn send(&self, to: &str, subject: &str, text: &str) -> Result<(), MailError> {
        let message = build(&self.from, to, subject, text)?;
        // The directory may have been removed since start-up.
        if tokio::fs::create_dir_all(&self.dir).await.is_err() {
            return Err(MailError::File);
        }
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|_| MailError::File)
    }
}
