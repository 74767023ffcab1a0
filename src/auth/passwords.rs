//! Client passwords: argon2id hashing and verification, run on the blocking thread pool
//! because each call costs tens of milliseconds of CPU.

use std::sync::LazyLock;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::{SaltString, rand_core::OsRng},
};

use crate::error::{AppError, AppResult};

/// Shortest password accepted by `setPassword`.
pub const MIN_CHARS: usize = 12;
/// Longest password accepted (longer ones only cost hashing time).
pub const MAX_CHARS: usize = 1024;

/// argon2id memory cost in KiB (19 MiB, OWASP's minimum recommendation for argon2id).
const M_COST: u32 = 19 * 1024;
/// argon2id passes.
const T_COST: u32 = 2;
/// argon2id lanes.
const P_COST: u32 = 1;

/// A fixed argon2id hash (of a password nobody knows) with the same parameters as real ones:
/// a login for an unknown e-mail, an inactive user or a user without a password verifies
/// against it, so that every refusal costs the same time as a wrong password.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$b25lZ3JhcGgtZHVtbXktc2FsdA$8cVKlXdcu6tgdYffAvhTsMCuXwspRY3Zpqfk1nbxgKM";

static HASHER: LazyLock<Option<Argon2<'static>>> = LazyLock::new(|| {
    Params::new(M_COST, T_COST, P_COST, None)
        .ok()
        .map(|params| Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
});

/// Hashing jobs allowed at once: each holds 19 MiB and a core for tens of milliseconds, so a
/// burst of logins from many addresses queues here instead of filling the blocking pool.
static IN_FLIGHT: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    tokio::sync::Semaphore::new(cores.saturating_mul(2).max(2))
});

/// Runs one hashing job on the blocking pool, at most [`IN_FLIGHT`] at once.
async fn run_blocking<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    let permit = IN_FLIGHT
        .acquire()
        .await
        .map_err(|e| AppError::internal(format!("password hashing queue: {e}")))?;
    // The permit moves into the job: it is held until the hash is done, even when the
    // request that asked for it has gone away.
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        job()
    })
    .await
    .map_err(|e| AppError::internal(format!("password hashing task: {e}")))
}

fn hasher() -> AppResult<&'static Argon2<'static>> {
    HASHER
        .as_ref()
        .ok_or_else(|| AppError::internal("argon2 parameters rejected"))
}

/// Checks a new password's length: at least [`MIN_CHARS`], at most [`MAX_CHARS`] characters.
pub fn validate_new(password: &str) -> AppResult<()> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(AppError::bad_input(format!(
            "password must be at least {MIN_CHARS} characters"
        )));
    }
    if chars > MAX_CHARS {
        return Err(AppError::bad_input(format!(
            "password must be at most {MAX_CHARS} characters"
        )));
    }
    Ok(())
}

fn hash_now(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(format!("argon2 hash: {e}")))
}

fn verify_now(password: &str, stored: Option<&str>) -> bool {
    let Ok(hasher) = hasher() else {
        return false;
    };
    // A stored hash that does not parse is treated like none: verify against the dummy so the
    // time spent stays the same, and refuse.
    let parsed = stored.and_then(|s| PasswordHash::new(s).ok());
    let real = parsed.is_some();
    let hash = match parsed {
        Some(hash) => hash,
        None => match PasswordHash::new(DUMMY_HASH) {
            Ok(hash) => hash,
            Err(_) => return false,
        },
    };
    let matches = hasher.verify_password(password.as_bytes(), &hash).is_ok();
    real && matches
}

/// The argon2id PHC string of `password`, computed on the blocking pool.
pub async fn hash(password: String) -> AppResult<String> {
    run_blocking(move || hash_now(&password)).await?
}

/// Whether `password` matches `stored`; with `stored` absent it verifies against a dummy hash
/// (same cost) and answers false. Runs on the blocking pool.
pub async fn verify(password: String, stored: Option<String>) -> AppResult<bool> {
    run_blocking(move || verify_now(&password, stored.as_deref())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_the_dummy_uses_the_live_parameters() {
        let hash = hash_now("correct horse battery").unwrap_or_default();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_now("correct horse battery", Some(&hash)));
        assert!(!verify_now("wrong horse battery", Some(&hash)));
        assert!(!verify_now("correct horse battery", None));
        assert!(!verify_now("correct horse battery", Some("not a hash")));
        // The dummy must cost what a real hash costs.
        let dummy = PasswordHash::new(DUMMY_HASH).ok();
        let real = PasswordHash::new(&hash).ok();
        assert_eq!(
            dummy
                .as_ref()
                .map(|d| (d.algorithm, d.version, d.params.clone())),
            real.as_ref()
                .map(|r| (r.algorithm, r.version, r.params.clone()))
        );
        assert_eq!(
            dummy.and_then(|d| d.hash).map(|h| h.len()),
            real.and_then(|r| r.hash).map(|h| h.len())
        );
    }

    #[test]
    fn new_passwords_are_bounded() {
        assert!(validate_new("short").is_err());
        assert!(validate_new(&"x".repeat(11)).is_err());
        assert!(validate_new(&"x".repeat(12)).is_ok());
        assert!(validate_new(&"x".repeat(1024)).is_ok());
        assert!(validate_new(&"x".repeat(1025)).is_err());
    }
}
