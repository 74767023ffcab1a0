//! Hub SSO tokens: strict HS256 verification with onegraph's own claim checks, and minting
//! (for `onegraph token`, the demo and tests).
//!
//! Verification is split so that a token whose signature holds but whose claims do not
//! (expired, wrong audience, …) can be reported as `auth.login_failed`, while forged or
//! garbage tokens are only logged.

use std::collections::HashSet;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde_json::Value;

/// How long after `iat` a token may expire at most (10 minutes).
const MAX_LIFETIME_SECS: i64 = 600;
/// Clock leeway for `exp` (30 seconds).
const LEEWAY_SECS: i64 = 30;

/// The audience a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Visitor staff (`aud: "visitor"`).
    Visitor,
    /// Portal clients (`aud: "portal"`).
    Portal,
}

impl Audience {
    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Visitor => "visitor",
            Audience::Portal => "portal",
        }
    }
    /// Parses the claim value.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "visitor" => Some(Audience::Visitor),
            "portal" => Some(Audience::Portal),
            _ => None,
        }
    }
}

/// The claims of a verified Hub token.
#[derive(Debug, Clone)]
pub struct HubClaims {
    /// Hub's user id.
    pub sub: String,
    /// Which product the token is for.
    pub audience: Audience,
    /// The user's e-mail.
    pub email: Option<String>,
    /// The user's display name.
    pub name: Option<String>,
    /// Hub's role name (informative).
    pub role: Option<String>,
    /// The tenant.
    pub tenant_id: String,
    /// The tenant's display name.
    pub tenant_name: Option<String>,
    /// The permissions claim, when present.
    pub permissions: Option<Vec<String>>,
    /// PSA company id (portal tokens; informative).
    pub company_id: Option<String>,
    /// Mission member id (portal tokens).
    pub mission_member_id: Option<String>,
    /// The single-use token id.
    pub jti: String,
    /// Expiry, unix seconds.
    pub exp: i64,
}

/// Why a token was refused before any database work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Bad signature, wrong algorithm or not a JWT at all: logged, never put in the outbox.
    Forged,
    /// The signature verified but the claims do not hold.
    Refused(Refusal),
}

/// A token whose signature verified but whose claims were refused; it is reported as
/// `auth.login_failed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `expired`, `wrong_audience` or `invalid_claims`.
    pub reason: &'static str,
    /// `sub`, when present.
    pub sub: Option<String>,
    /// `aud`, when present.
    pub audience: Option<String>,
    /// `tenant_id`, when present.
    pub tenant_id: Option<String>,
}

impl Rejection {
    /// The `reason` of the `auth.login_failed` event, or `None` for forged tokens.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Rejection::Forged => None,
            Rejection::Refused(r) => Some(r.reason),
        }
    }
}

fn string_claim(claims: &Value, name: &str) -> Option<String> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Verifies `token` with `secret`, requiring HS256, `iss == issuer`, a known audience, an `exp`
/// at most 10 minutes after `iat` and not past (30 s leeway), a `jti`, `sub` and `tenant_id`.
pub fn verify(token: &str, secret: &str, issuer: &str, now: i64) -> Result<HubClaims, Rejection> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    let claims: Value = match jsonwebtoken::decode(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    ) {
        Ok(data) => data.claims,
        Err(_) => return Err(Rejection::Forged),
    };
    if !claims.is_object() {
        return Err(Rejection::Forged);
    }
    let sub = string_claim(&claims, "sub");
    let aud_text = string_claim(&claims, "aud");
    let refused = |reason: &'static str| {
        Rejection::Refused(Refusal {
            reason,
            sub: sub.clone(),
            audience: aud_text.clone(),
            tenant_id: string_claim(&claims, "tenant_id"),
        })
    };
    let invalid = || refused("invalid_claims");
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(invalid)?;
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(invalid)?;
    // Checked: a signed token with absurd times must be refused, not wrap around into a
    // valid-looking window (its `jti` row would then expire, and be swept, early).
    let (Some(exp_with_leeway), Some(lifetime), Some(latest_iat)) = (
        exp.checked_add(LEEWAY_SECS),
        exp.checked_sub(iat),
        now.checked_add(LEEWAY_SECS),
    ) else {
        return Err(invalid());
    };
    if exp_with_leeway < now {
        return Err(refused("expired"));
    }
    // With `exp` at most 10 minutes after `iat` and not past, `iat` lies within the last
    // 10 minutes and 30 seconds: a bounded window.
    if !(0..=MAX_LIFETIME_SECS).contains(&lifetime) || iat > latest_iat {
        return Err(invalid());
    }
    if string_claim(&claims, "iss").as_deref() != Some(issuer) {
        return Err(invalid());
    }
    let audience = aud_text
        .as_deref()
        .and_then(Audience::parse)
        .ok_or_else(|| refused("wrong_audience"))?;
    let jti = string_claim(&claims, "jti").ok_or_else(invalid)?;
    let tenant_id = string_claim(&claims, "tenant_id").ok_or_else(invalid)?;
    let sub_value = sub.clone().ok_or_else(invalid)?;
    if jti.len() > 200 || tenant_id.len() > 100 || sub_value.len() > 200 {
        return Err(invalid());
    }
    let permissions = match claims.get("permissions") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        Some(_) => return Err(invalid()),
    };
    Ok(HubClaims {
        sub: sub_value,
        audience,
        email: string_claim(&claims, "email"),
        name: string_claim(&claims, "name"),
        role: string_claim(&claims, "role"),
        tenant_id,
        tenant_name: string_claim(&claims, "tenant_name"),
        permissions,
        company_id: string_claim(&claims, "company_id"),
        mission_member_id: string_claim(&claims, "mission_member_id"),
        jti,
        exp,
    })
}

/// What `onegraph token` and the tests put in a minted token.
#[derive(Debug, Clone, Serialize)]
pub struct MintClaims {
    /// Issuer.
    pub iss: String,
    /// Audience (`visitor` or `portal`).
    pub aud: String,
    /// Hub user id.
    pub sub: String,
    /// E-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Tenant id.
    pub tenant_id: String,
    /// Tenant name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_name: Option<String>,
    /// Permissions claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    /// Single-use id.
    pub jti: String,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Expiry, unix seconds.
    pub exp: i64,
}

/// Signs `claims` with HS256.
pub fn mint(claims: &MintClaims, secret: &str) -> Result<String, jsonwebtoken::errors::Error> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const ISS: &str = "https://my.theonestack.com";

    fn claims(now: i64) -> MintClaims {
        MintClaims {
            iss: ISS.into(),
            aud: "visitor".into(),
            sub: "hub-1".into(),
            email: Some("a@b.c".into()),
            name: Some("Ada".into()),
            role: None,
            tenant_id: "t1".into(),
            tenant_name: Some("Acme".into()),
            permissions: Some(vec!["visitor.visitors.view".into()]),
            jti: "j1".into(),
            iat: now,
            exp: now + 300,
        }
    }

    fn check(c: &MintClaims, secret: &str, now: i64) -> Result<HubClaims, Rejection> {
        let token = mint(c, secret).map_err(|_| Rejection::Forged)?;
        verify(&token, SECRET, ISS, now)
    }

    #[test]
    fn a_good_token_verifies() {
        let now = 1_700_000_000;
        let verified = check(&claims(now), SECRET, now);
        assert!(
            matches!(verified, Ok(ref c) if c.sub == "hub-1" && c.audience == Audience::Visitor)
        );
    }

    #[test]
    fn each_bad_claim_is_refused_with_its_reason() {
        let now = 1_700_000_000;
        assert_eq!(
            check(&claims(now), "another-secret-another-secret-xx", now).err(),
            Some(Rejection::Forged)
        );
        assert_eq!(
            check(&claims(now), SECRET, now + 331)
                .err()
                .and_then(|r| r.reason()),
            Some("expired")
        );
        assert!(
            check(&claims(now), SECRET, now + 329).is_ok(),
            "30 s leeway"
        );
        let mut c = claims(now);
        c.exp = now + 601;
        assert_eq!(
            check(&c, SECRET, now).err().and_then(|r| r.reason()),
            Some("invalid_claims")
        );
        let mut c = claims(now);
        c.iss = "https://evil.example".into();
        assert_eq!(
            check(&c, SECRET, now).err().and_then(|r| r.reason()),
            Some("invalid_claims")
        );
        let mut c = claims(now);
        c.aud = "books".into();
        assert_eq!(
            check(&c, SECRET, now).err().and_then(|r| r.reason()),
            Some("wrong_audience")
        );
        let mut c = claims(now);
        c.jti = String::new();
        assert_eq!(
            check(&c, SECRET, now).err().and_then(|r| r.reason()),
            Some("invalid_claims")
        );
    }

    #[test]
    fn absurd_times_are_refused_not_wrapped() {
        let now = 1_700_000_000;
        for (iat, exp) in [
            (-10, i64::MAX - 30),
            (i64::MIN, now + 60),
            (now, i64::MAX),
            (i64::MAX, i64::MAX),
            (i64::MIN, i64::MIN),
        ] {
            let mut c = claims(now);
            c.iat = iat;
            c.exp = exp;
            let reason = check(&c, SECRET, now).err().and_then(|r| r.reason());
            assert!(
                matches!(reason, Some("invalid_claims" | "expired")),
                "iat {iat}, exp {exp}: {reason:?}"
            );
        }
    }

    #[test]
    fn alg_none_and_garbage_are_forged() {
        use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
        let now = 1_700_000_000;
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(now)).unwrap_or_default());
        assert_eq!(
            verify(&format!("{header}.{body}."), SECRET, ISS, now).err(),
            Some(Rejection::Forged)
        );
        assert_eq!(
            verify("garbage", SECRET, ISS, now).err(),
            Some(Rejection::Forged)
        );
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims(now),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap_or_default();
        assert_eq!(
            verify(&hs512, SECRET, ISS, now).err(),
            Some(Rejection::Forged)
        );
    }
}
