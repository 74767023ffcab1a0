//! The harness's own promises: every test server has a directory of its own, holding its
//! mail and its SQLite database, and the directory is gone once the server is dropped.

use crate::support::{TestApp, fake};

#[tokio::test]
async fn a_test_server_removes_its_directory_when_dropped() {
    let app = TestApp::spawn().await;
    let other = TestApp::spawn().await;
    let dir = app.dir.clone();
    assert!(dir.join("onegraph.db").is_file());
    assert_eq!(app.mail_dir(), dir.join("mail"));
    assert!(app.mail_dir().is_dir());
    assert_ne!(app.mail_dir(), other.mail_dir());
    // Some writes, so the SQLite write-ahead log is in the directory too.
    let admin = app.admin("harness").await;
    app.create_location(&admin, "Lobby").await;

    drop(app);
    assert!(!dir.exists(), "{} is still there", dir.display());
    assert!(other.dir.join("onegraph.db").is_file());

    // A MAIL_DIR the test gave from `fake::mail_dir` goes with its server too.
    let given = fake::mail_dir();
    let app = TestApp::spawn_with(&[("MAIL_DIR", &given.display().to_string())]).await;
    assert_eq!(app.mail_dir(), given);
    assert!(given.is_dir());
    let dir = app.dir.clone();
    drop(app);
    assert!(!given.exists(), "{} is still there", given.display());
    assert!(!dir.exists(), "{} is still there", dir.display());
}
