//! Build script: fetches the pinned GraphiQL, React and ReactDOM browser bundles from the npm
//! registry, checks each tarball against its pinned sha512 integrity, and embeds the files in
//! the binary through `$OUT_DIR/graphiql_assets.rs` (included by `src/graphql/graphiql.rs`).
//!
//! No third-party JavaScript is committed to the repository. Needs `npm` and `tar` on `PATH`;
//! the sha512 check is done here in plain Rust. Tarballs are cached in
//! `<target dir>/graphiql-cache` (shared by every profile), so rebuilds do not fetch again.
//!
//! If anything fails (no `npm`, no network, an integrity mismatch, no `tar`), the build still
//! succeeds: a `cargo:warning` says why, the generated file sets `BUNDLED = false` with empty
//! assets, and the page served in place of GraphiQL explains how to get the assets.
//!
//! Setting `ONEGRAPH_GRAPHIQL_SKIP=1` skips the fetch (for offline builds that should not wait
//! on npm's network timeouts). The script reruns only when this file, that variable or
//! `TEST_DATABASE_URL` changes: after installing npm, `cargo clean -p onegraph` (or touching
//! `build.rs`) and a rebuild bundles the assets.
//!
//! It also sets `cfg(pg_tests)` when `TEST_DATABASE_URL` is set and not empty. The
//! integration tests' PostgreSQL variants are compiled as ignored without it, so a test run
//! without a PostgreSQL server reports them as ignored instead of passing them.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// One npm package pinned by version and by the `dist.integrity` the registry publishes.
struct Package {
    name: &'static str,
    version: &'static str,
    integrity: &'static str,
}

/// `npm view graphiql@3.9.0 dist.integrity`
const GRAPHIQL: Package = Package {
    name: "graphiql",
    version: "3.9.0",
    integrity: "sha512-rJYFlHdBbug9+YbFSwRVvgfPjCayC7wHecZkx/qB4XLuQPFQZw/yB9pmHFtOJV6RiNBBHro3u1GdocKa3YcGRA==",
};

/// `npm view react@18.3.1 dist.integrity`
const REACT: Package = Package {
    name: "react",
    version: "18.3.1",
    integrity: "sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==",
};

/// `npm view react-dom@18.3.1 dist.integrity`
const REACT_DOM: Package = Package {
    name: "react-dom",
    version: "18.3.1",
    integrity: "sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw==",
};

/// A file to embed: the package it comes from, its path inside the tarball, and the name of
/// the generated `&[u8]` static that holds it.
struct Asset {
    package: &'static Package,
    member: &'static str,
    constant: &'static str,
}

const ASSETS: [Asset; 4] = [
    Asset {
        package: &REACT,
        member: "package/umd/react.production.min.js",
        constant: "REACT_JS",
    },
    Asset {
        package: &REACT_DOM,
        member: "package/umd/react-dom.production.min.js",
        constant: "REACT_DOM_JS",
    },
    Asset {
        package: &GRAPHIQL,
        member: "package/graphiql.min.js",
        constant: "GRAPHIQL_JS",
    },
    Asset {
        package: &GRAPHIQL,
        member: "package/graphiql.min.css",
        constant: "GRAPHIQL_CSS",
    },
];

/// Longest a single `npm pack` may take before it is killed and the build goes on without it.
const NPM_TIMEOUT: Duration = Duration::from_secs(180);
/// Longest a single `tar` extraction may take.
const TAR_TIMEOUT: Duration = Duration::from_secs(60);

const SKIP_VAR: &str = "ONEGRAPH_GRAPHIQL_SKIP";

/// The PostgreSQL server the integration tests create their databases on.
const TEST_DATABASE_VAR: &str = "TEST_DATABASE_URL";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed={SKIP_VAR}");
    pg_tests_cfg();

    let Some(out_dir) = env::var_os("OUT_DIR").map(PathBuf::from) else {
        // Cargo always sets OUT_DIR for build scripts; without it nothing can be generated.
        println!("cargo:warning=OUT_DIR is not set; cannot generate the GraphiQL assets file");
        std::process::exit(1);
    };

    let result = if env::var_os(SKIP_VAR).is_some_and(|v| !v.is_empty() && v != "0") {
        Err(format!(
            "{SKIP_VAR} was set, so the build did not fetch them"
        ))
    } else {
        bundle(&out_dir)
    };

    let generated = match result {
        Ok(files) => generate_bundled(&files),
        Err(reason) => {
            warn(&format!(
                "GraphiQL assets not bundled: {reason}. The build goes on; /graphql will show a \
                 page explaining how to get them (install Node.js/npm, then \
                 `cargo clean -p onegraph` and rebuild)."
            ));
            generate_unbundled(&reason)
        }
    };

    let target = out_dir.join("graphiql_assets.rs");
    if let Err(e) = fs::write(&target, generated) {
        println!("cargo:warning=cannot write {}: {e}", target.display());
        std::process::exit(1);
    }
}

/// Declares `cfg(pg_tests)` and sets it when `TEST_DATABASE_URL` is set and not empty, so
/// the integration tests run their PostgreSQL variants only then (and show them as ignored
/// otherwise). Cargo reruns this script, and rebuilds, when the variable changes.
fn pg_tests_cfg() {
    println!("cargo::rustc-check-cfg=cfg(pg_tests)");
    println!("cargo::rerun-if-env-changed={TEST_DATABASE_VAR}");
    if env::var_os(TEST_DATABASE_VAR).is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=pg_tests");
    }
}

/// Fetches, verifies and extracts every asset; returns the extracted file for each of `ASSETS`.
fn bundle(out_dir: &Path) -> Result<Vec<PathBuf>, String> {
    let cache_dir = cache_dir(out_dir);
    let pack_dir = out_dir.join("graphiql-npm-pack");
    let extract_root = out_dir.join("graphiql-extract");
    let assets_dir = out_dir.join("graphiql-assets");
    for dir in [&pack_dir, &extract_root, &assets_dir] {
        let _ = fs::remove_dir_all(dir);
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }

    for pkg in [&REACT, &REACT_DOM, &GRAPHIQL] {
        let tarball = tarball(pkg, &cache_dir, &pack_dir)?;
        let extract_dir = extract_root.join(pkg.name);
        fs::create_dir_all(&extract_dir)
            .map_err(|e| format!("cannot create {}: {e}", extract_dir.display()))?;
        let members: Vec<&str> = ASSETS
            .iter()
            .filter(|a| a.package.name == pkg.name)
            .map(|a| a.member)
            .collect();
        extract(&tarball, &extract_dir, pkg, &members)?;
    }

    let mut files = Vec::with_capacity(ASSETS.len());
    for asset in &ASSETS {
        let pkg = asset.package;
        let extracted = extract_root.join(pkg.name).join(asset.member);
        let len = fs::metadata(&extracted).map(|m| m.len()).unwrap_or(0);
        if len == 0 {
            return Err(format!(
                "{}@{} has no {}",
                pkg.name, pkg.version, asset.member
            ));
        }
        // A flat directory keeps the generated paths short and independent of tarball layout.
        let file_name = asset.member.rsplit('/').next().unwrap_or(asset.member);
        let dest = assets_dir.join(file_name);
        fs::copy(&extracted, &dest).map_err(|e| {
            format!(
                "cannot copy {} to {}: {e}",
                extracted.display(),
                dest.display()
            )
        })?;
        files.push(dest);
    }
    // The tarballs are in the cache and the needed files in `assets_dir`.
    let _ = fs::remove_dir_all(&pack_dir);
    let _ = fs::remove_dir_all(&extract_root);
    Ok(files)
}

/// `<target dir>/graphiql-cache`, found from OUT_DIR (`<target>/<profile>/build/<pkg>-<hash>/out`)
/// so that every profile shares it; `$OUT_DIR/graphiql-cache` if that cannot be made.
fn cache_dir(out_dir: &Path) -> PathBuf {
    let shared = out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(|target| target.join("graphiql-cache"));
    match shared {
        Some(dir) if fs::create_dir_all(&dir).is_ok() => dir,
        _ => out_dir.join("graphiql-cache"),
    }
}

/// A verified tarball for `pkg`: from the cache if one there matches the pinned integrity,
/// otherwise fetched with `npm pack` (then stored in the cache for next time).
fn tarball(pkg: &Package, cache_dir: &Path, pack_dir: &Path) -> Result<PathBuf, String> {
    let file_name = format!("{}-{}.tgz", pkg.name, pkg.version);
    let cached = cache_dir.join(&file_name);
    if cached.is_file() {
        match verify(&cached, pkg) {
            Ok(()) => return Ok(cached),
            Err(e) => {
                warn(&format!("discarding cached {}: {e}", cached.display()));
                let _ = fs::remove_file(&cached);
            }
        }
    }

    let spec = format!("{}@{}", pkg.name, pkg.version);
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let mut cmd = Command::new(npm);
    cmd.arg("pack")
        .arg(&spec)
        .arg("--pack-destination")
        .arg(pack_dir)
        .arg("--json")
        .arg("--prefer-offline")
        // npm's default retry back-off waits 70 s before giving up on an unreachable registry.
        .arg("--fetch-retry-maxtimeout=15000")
        .arg("--ignore-scripts")
        .current_dir(pack_dir);
    run(cmd, pack_dir, &format!("npm-{}", pkg.name), NPM_TIMEOUT)
        .map_err(|e| format!("`npm pack {spec}` failed: {e}"))?;

    let packed = pack_dir.join(&file_name);
    if !packed.is_file() {
        return Err(format!(
            "`npm pack {spec}` did not produce {}",
            packed.display()
        ));
    }
    verify(&packed, pkg)?;

    // Copy then rename, so a concurrent build never sees a half-written tarball.
    let tmp = cache_dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    if fs::create_dir_all(cache_dir).is_ok()
        && fs::copy(&packed, &tmp).is_ok()
        && fs::rename(&tmp, &cached).is_ok()
    {
        return Ok(cached);
    }
    // No cache this time; the packed tarball serves this build.
    let _ = fs::remove_file(&tmp);
    Ok(packed)
}

/// Checks `file` against the pinned `sha512-<base64>` integrity of `pkg`.
fn verify(file: &Path, pkg: &Package) -> Result<(), String> {
    let bytes = fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let actual = format!("sha512-{}", base64(&sha512(&bytes)));
    if actual == pkg.integrity {
        Ok(())
    } else {
        Err(format!(
            "integrity mismatch for {}@{} ({}): expected {}, got {actual}",
            pkg.name,
            pkg.version,
            file.display(),
            pkg.integrity
        ))
    }
}

/// Extracts `members` of `tarball` into `dest` with the system `tar`.
fn extract(tarball: &Path, dest: &Path, pkg: &Package, members: &[&str]) -> Result<(), String> {
    let dir = tarball.parent().unwrap_or(Path::new("."));
    let name = tarball.file_name().unwrap_or(tarball.as_os_str());
    let mut cmd = Command::new("tar");
    // Run from the tarball's directory with a relative `-f`: GNU tar would read a `C:\…`
    // archive path as `host:path`.
    cmd.arg("-xzf")
        .arg(name)
        .arg("-C")
        .arg(dest)
        .args(members)
        .current_dir(dir);
    let log_dir = dest.parent().unwrap_or(dest);
    run(cmd, log_dir, &format!("tar-{}", pkg.name), TAR_TIMEOUT)
        .map_err(|e| format!("extracting {} with `tar` failed: {e}", tarball.display()))
}

/// Runs `cmd` with its output sent to `<log_dir>/<label>.{stdout,stderr}` and a time limit;
/// on failure, returns the tail of its stderr.
fn run(mut cmd: Command, log_dir: &Path, label: &str, timeout: Duration) -> Result<(), String> {
    let stdout_path = log_dir.join(format!("{label}.stdout"));
    let stderr_path = log_dir.join(format!("{label}.stderr"));
    let stdout = fs::File::create(&stdout_path).map_err(|e| e.to_string())?;
    let stderr = fs::File::create(&stderr_path).map_err(|e| e.to_string())?;
    cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr);

    let mut child = cmd.spawn().map_err(|e| {
        let program = cmd.get_program().to_string_lossy().into_owned();
        if e.kind() == std::io::ErrorKind::NotFound {
            format!("`{program}` was not found on PATH")
        } else {
            format!("cannot start `{program}`: {e}")
        }
    })?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {}s", timeout.as_secs()));
            }
            Ok(None) => thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("cannot wait for it: {e}")),
        }
    };
    if status.success() {
        return Ok(());
    }
    let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
    Err(format!(
        "{status}: {} (full output in {})",
        summarize(&stderr),
        stderr_path.display()
    ))
}

/// The informative lines of a failed command's stderr: npm's error code and message when it
/// printed them (not its stack trace or boilerplate), otherwise the last lines.
fn summarize(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let npm_errors: Vec<&str> = lines
        .iter()
        .filter_map(|l| {
            l.strip_prefix("npm error ")
                .or_else(|| l.strip_prefix("npm ERR! "))
        })
        .map(str::trim)
        .filter(|rest| {
            !rest.is_empty()
                && !rest.contains(": '")
                && ![
                    "at ",
                    "errno",
                    "syscall",
                    "{",
                    "}",
                    "A complete log",
                    "If you are behind",
                ]
                .iter()
                .any(|p| rest.starts_with(p))
        })
        .take(2)
        .collect();
    if npm_errors.is_empty() {
        lines[lines.len().saturating_sub(3)..].join(" | ")
    } else {
        npm_errors.join(" | ")
    }
}

/// The generated file when every asset was fetched and verified.
fn generate_bundled(files: &[PathBuf]) -> String {
    let mut s = header();
    s.push_str(
        "/// The GraphiQL assets are embedded in this binary.\nconst BUNDLED: bool = true;\n",
    );
    s.push_str("/// Empty: the assets are bundled.\nconst NOT_BUNDLED_REASON: &str = \"\";\n");
    for (asset, file) in ASSETS.iter().zip(files) {
        let path = file.to_string_lossy();
        let _ = writeln!(
            s,
            "/// `{}` from `{}@{}`.\nstatic {}: &[u8] = include_bytes!({:?});",
            asset.member, asset.package.name, asset.package.version, asset.constant, path
        );
    }
    s
}

/// The generated file when the assets could not be fetched: empty assets and the reason.
fn generate_unbundled(reason: &str) -> String {
    let mut s = header();
    s.push_str(
        "/// The GraphiQL assets are NOT embedded in this binary.\nconst BUNDLED: bool = false;\n",
    );
    let _ = writeln!(
        s,
        "/// Why the build did not bundle them.\nconst NOT_BUNDLED_REASON: &str = {reason:?};"
    );
    for asset in &ASSETS {
        let _ = writeln!(
            s,
            "/// Empty: not bundled.\nstatic {}: &[u8] = b\"\";",
            asset.constant
        );
    }
    s
}

fn header() -> String {
    format!(
        "// @generated by build.rs: GraphiQL assets for src/graphql/graphiql.rs.\n\
         /// Version of the `graphiql` npm package the assets come from.\n\
         const GRAPHIQL_VERSION: &str = {:?};\n\
         /// Version of the `react` and `react-dom` npm packages the assets come from.\n\
         const REACT_VERSION: &str = {:?};\n",
        GRAPHIQL.version, REACT.version
    )
}

/// A `cargo:warning` on one line (Cargo shows only the first line of a warning).
fn warn(message: &str) {
    let one_line: String = message
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    println!("cargo:warning={one_line}");
}

/// Standard base64 with padding (RFC 4648), as npm's integrity strings use.
fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(TABLE[((n >> (18 - 6 * i)) & 0x3f) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// SHA-512 (FIPS 180-4), so the check needs no `openssl`/`sha512sum` and no build-dependency.
fn sha512(data: &[u8]) -> [u8; 64] {
    const K: [u64; 80] = [
        0x428a2f98d728ae22,
        0x7137449123ef65cd,
        0xb5c0fbcfec4d3b2f,
        0xe9b5dba58189dbbc,
        0x3956c25bf348b538,
        0x59f111f1b605d019,
        0x923f82a4af194f9b,
        0xab1c5ed5da6d8118,
        0xd807aa98a3030242,
        0x12835b0145706fbe,
        0x243185be4ee4b28c,
        0x550c7dc3d5ffb4e2,
        0x72be5d74f27b896f,
        0x80deb1fe3b1696b1,
        0x9bdc06a725c71235,
        0xc19bf174cf692694,
        0xe49b69c19ef14ad2,
        0xefbe4786384f25e3,
        0x0fc19dc68b8cd5b5,
        0x240ca1cc77ac9c65,
        0x2de92c6f592b0275,
        0x4a7484aa6ea6e483,
        0x5cb0a9dcbd41fbd4,
        0x76f988da831153b5,
        0x983e5152ee66dfab,
        0xa831c66d2db43210,
        0xb00327c898fb213f,
        0xbf597fc7beef0ee4,
        0xc6e00bf33da88fc2,
        0xd5a79147930aa725,
        0x06ca6351e003826f,
        0x142929670a0e6e70,
        0x27b70a8546d22ffc,
        0x2e1b21385c26c926,
        0x4d2c6dfc5ac42aed,
        0x53380d139d95b3df,
        0x650a73548baf63de,
        0x766a0abb3c77b2a8,
        0x81c2c92e47edaee6,
        0x92722c851482353b,
        0xa2bfe8a14cf10364,
        0xa81a664bbc423001,
        0xc24b8b70d0f89791,
        0xc76c51a30654be30,
        0xd192e819d6ef5218,
        0xd69906245565a910,
        0xf40e35855771202a,
        0x106aa07032bbd1b8,
        0x19a4c116b8d2d0c8,
        0x1e376c085141ab53,
        0x2748774cdf8eeb99,
        0x34b0bcb5e19b48a8,
        0x391c0cb3c5c95a63,
        0x4ed8aa4ae3418acb,
        0x5b9cca4f7763e373,
        0x682e6ff3d6b2b8a3,
        0x748f82ee5defb2fc,
        0x78a5636f43172f60,
        0x84c87814a1f0ab72,
        0x8cc702081a6439ec,
        0x90befffa23631e28,
        0xa4506cebde82bde9,
        0xbef9a3f7b2c67915,
        0xc67178f2e372532b,
        0xca273eceea26619c,
        0xd186b8c721c0c207,
        0xeada7dd6cde0eb1e,
        0xf57d4f7fee6ed178,
        0x06f067aa72176fba,
        0x0a637dc5a2c898a6,
        0x113f9804bef90dae,
        0x1b710b35131c471b,
        0x28db77f523047d84,
        0x32caab7b40c72493,
        0x3c9ebe0a15c9bebc,
        0x431d67c49c100d4c,
        0x4cc5d4becb3e42b6,
        0x597f299cfc657e2a,
        0x5fcb6fab3ad6faec,
        0x6c44198c4a475817,
    ];
    let mut h: [u64; 8] = [
        0x6a09e667f3bcc908,
        0xbb67ae8584caa73b,
        0x3c6ef372fe94f82b,
        0xa54ff53a5f1d36f1,
        0x510e527fade682d1,
        0x9b05688c2b3e6c1f,
        0x1f83d9abfb41bd6b,
        0x5be0cd19137e2179,
    ];

    let bit_len = (data.len() as u128).wrapping_mul(8);
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 128 != 112 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());

    let mut w = [0u64; 80];
    for block in msg.chunks_exact(128) {
        for (i, word) in block.chunks_exact(8).enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(word);
            w[i] = u64::from_be_bytes(b);
        }
        for i in 16..80 {
            let s0 = w[i - 15].rotate_right(1) ^ w[i - 15].rotate_right(8) ^ (w[i - 15] >> 7);
            let s1 = w[i - 2].rotate_right(19) ^ w[i - 2].rotate_right(61) ^ (w[i - 2] >> 6);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for (k, wi) in K.iter().zip(w.iter()) {
            let s1 = e.rotate_right(14) ^ e.rotate_right(18) ^ e.rotate_right(41);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(*k)
                .wrapping_add(*wi);
            let s0 = a.rotate_right(28) ^ a.rotate_right(34) ^ a.rotate_right(39);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }

    let mut out = [0u8; 64];
    for (chunk, word) in out.chunks_exact_mut(8).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}
