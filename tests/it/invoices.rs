// Invoices from Books through the public surface: the invoice sync pages them in from a fake
// Books over real HTTP, keeps money exact, applies newer versions and ignores older ones,
// leaves stored data alone when Books fails; clients see only their own company's invoices,
// by `portal.invoices.view`, at a constant SQL cost per page.

use chrono::{Duration, SecondsFormat, Utc};
use onegraph::jobs::{Job, JobReport, execute};
use serde_json::{Value, json};

use crate::support::books::{self, FakeBooks, Mode};
use crate::support::*;

const LIST: &str = "query($s: InvoiceStatus, $f: Int, $a: String) {
  invoices(status: $s, first: $f, after: $a) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id number status total { amount currency } balance { amount currency }
                          issuedAt dueAt pdfUrl } }
  }
}";

/// How far the cursor stays behind the newest change seen, in minutes.
const OVERLAP_MINUTES: i64 = onegraph::jobs::invoices::CURSOR_OVERLAP.num_minutes();

fn at(minutes: i64) -> String {
    (Utc::now()
        .date_naive()
        .and_hms_opt(8, 0, 0)
        .unwrap()
        .and_utc()
        + Duration::minutes(minutes))
    .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A Books invoice of `tenant` (a label) and `company`, issued `issued` days ago and last
/// changed at minute `updated` of today.
#[allow(clippy::too_many_arguments)]
fn invoice(
    tenant: &str,
    company: &str,
    id: &str,
    status: &str,
    total: &str,
    balance: &str,
    issued: i64,
    updated: i64,
) -> Value {
    json!({
        "id": id,
        "tenant_id": tenant_id(tenant),
        "company_id": company,
        "number": format!("N-{id}"),
        "status": status,
        "currency": "EUR",
        "total": total,
        "balance": balance,
        "issued_at": (Utc::now() - Duration::days(issued)).to_rfc3339_opts(SecondsFormat::Secs, true),
        "due_at": (Utc::now() + Duration::days(30 - issued)).to_rfc3339_opts(SecondsFormat::Secs, true),
        "pdf_url": format!("https://books.example.com/pdf/{id}"),
        "updated_at": at(updated),
    })
}

/// An acme / co-1 invoice.
fn acme(id: &str, status: &str, total: &str, issued: i64, updated: i64) -> Value {
    invoice("acme", "co-1", id, status, total, total, issued, updated)
}

async fn sync(app: &TestApp) -> JobReport {
    execute(&app.state, Job::Invoices)
        .await
        .unwrap_or_else(|e| panic!("invoice sync failed: {e:?}"))
}

async fn sync_fails(app: &TestApp) -> &'static str {
    match execute(&app.state, Job::Invoices).await {
        Ok(report) => panic!("the sync should fail, it reported {}", report.summary()),
        Err(err) => err.code().as_str(),
    }
}

fn counts(report: &JobReport, tenant: &str, counter: &str) -> u64 {
    report
        .per_tenant
        .get(&tenant_id(tenant))
        .and_then(|c| c.get(counter))
        .copied()
        .unwrap_or(0)
}

async fn list(app: &TestApp, token: &str, vars: Value) -> Value {
    app.ok(token, LIST, vars).await["invoices"].clone()
}

fn numbers(conn: &Value) -> Vec<String> {
    conn["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["number"].as_str().unwrap().to_owned())
        .collect()
}

fn node<'a>(conn: &'a Value, number: &str) -> &'a Value {
    conn["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["number"] == number)
        .unwrap_or_else(|| panic!("{number} not in {conn}"))
}

on_every_backend!(
    invoices_page_in_and_later_versions_replace_older_ones,
    env = [
        books::start(),
        ("BOOKS_SERVICE_KEY", books::KEY),
        ("UPSTREAM_TIMEOUT", "1s")
    ],
    |app| {
        let books = FakeBooks::of(&app);
        for i in 1..=5 {
            books.put(acme(&format!("b{i}"), "open", "100.00", i, i));
        }
        let report = sync(&app).await;
        assert_eq!(counts(&report, "acme", "upserted"), 5, "{report:?}");
        assert!(report.errors.is_empty(), "{report:?}");
        let seen = books.take_requests();
        let pages: Vec<_> = seen.iter().map(|s| s.page.clone().unwrap()).collect();
        assert_eq!(pages, ["1", "2", "3"]);
        assert!(
            seen.iter()
                .all(|s| s.authorization.as_deref() == Some("Bearer test-books-service-key"))
        );
        assert_eq!(
            seen[0].updated_since,
            Some(chrono::DateTime::UNIX_EPOCH),
            "the first run reads from the epoch"
        );

        let client = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        let all = list(&app, &client, json!({})).await;
        assert_eq!(all["totalCount"], 5);
        // Newest issued first: b1 was issued a day ago, b5 five days ago.
        assert_eq!(numbers(&all), ["N-b1", "N-b2", "N-b3", "N-b4", "N-b5"]);
        let b2 = node(&all, "N-b2");
        assert_eq!(b2["status"], "OPEN");
        assert_eq!(b2["total"], json!({"amount": "100.00", "currency": "EUR"}));
        assert_eq!(b2["pdfUrl"], "https://books.example.com/pdf/b2");
        let b2_id = b2["id"].as_str().unwrap().to_owned();

        // A later run reads from the newest change seen, less the cursor's overlap, and
        // applies the new version.
        books.put(invoice(
            "acme", "co-1", "b2", "paid", "100.00", "0.00", 2, 10,
        ));
        let report = sync(&app).await;
        assert_eq!(counts(&report, "acme", "upserted"), 1, "{report:?}");
        let seen = books.take_requests();
        assert_eq!(
            seen[0].updated_since.map(|t| t.to_rfc3339()),
            chrono::DateTime::parse_from_rfc3339(&at(5 - OVERLAP_MINUTES))
                .ok()
                .map(|t| t.to_utc().to_rfc3339())
        );
        let one = app
            .ok(
                &client,
                "query($id: ID!){ invoice(id: $id){ number status balance { amount } } }",
                json!({"id": b2_id}),
            )
            .await;
        assert_eq!(
            one["invoice"],
            json!({"number": "N-b2", "status": "PAID", "balance": {"amount": "0.00"}})
        );

        // An older version replayed by Books changes nothing.
        books.set_replay(true);
        books.put(invoice(
            "acme", "co-1", "b2", "overdue", "100.00", "100.00", 2, 7,
        ));
        let report = sync(&app).await;
        assert_eq!(counts(&report, "acme", "upserted"), 0, "{report:?}");
        assert_eq!(counts(&report, "acme", "skipped"), 5, "{report:?}");
        let all = list(&app, &client, json!({})).await;
        assert_eq!(node(&all, "N-b2")["status"], "PAID");
        assert_eq!(node(&all, "N-b2")["balance"]["amount"], "0.00");
        assert_eq!(all["totalCount"], 5);
    }
);

on_every_backend!(
    money_is_exact_on_the_way_in_and_out,
    env = [
        books::start(),
        ("BOOKS_SERVICE_KEY", books::KEY),
        ("UPSTREAM_TIMEOUT", "1s")
    ],
    |app| {
        use sea_orm::EntityTrait;
        let books = FakeBooks::of(&app);
        let mut big = invoice("acme", "co-1", "big", "open", "1000000.01", "0.10", 1, 1);
        big["currency"] = json!("eur");
        // Only web addresses reach clients as links.
        big["pdf_url"] = json!("javascript:alert(1)");
        books.put(big);
        books.put(invoice(
            "acme",
            "co-1",
            "long",
            "paid",
            "12345678901234567890.1234567890",
            "0",
            2,
            2,
        ));
        sync(&app).await;
        let client = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        let all = list(&app, &client, json!({})).await;
        let big = node(&all, "N-big");
        assert_eq!(
            big["total"],
            json!({"amount": "1000000.01", "currency": "EUR"})
        );
        assert_eq!(big["balance"], json!({"amount": "0.10", "currency": "EUR"}));
        assert_eq!(big["pdfUrl"], Value::Null);
        let long = node(&all, "N-long");
        assert_eq!(long["total"]["amount"], "12345678901234567890.1234567890");
        assert_eq!(long["balance"]["amount"], "0");

        // Stored as the exact text, on either database.
        let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
        let mut rows = entities::invoices::Entity::find().all(&db).await.unwrap();
        rows.sort_by(|a, b| a.books_invoice_id.cmp(&b.books_invoice_id));
        let stored: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r.total.as_str(), r.balance.as_str(), r.currency.as_str()))
            .collect();
        assert_eq!(
            stored,
            [
                ("1000000.01", "0.10", "EUR"),
                ("12345678901234567890.1234567890", "0", "EUR")
            ]
        );
    }
);

on_every_backend!(
    status_filter_and_pagination_count_every_page,
    env = [
        books::start(),
        ("BOOKS_SERVICE_KEY", books::KEY),
        ("UPSTREAM_TIMEOUT", "1s")
    ],
    |app| {
        let books = FakeBooks::of(&app);
        books.set_page_size(3);
        let statuses = ["open", "paid", "open", "void", "open", "paid", "open"];
        for (i, status) in statuses.iter().enumerate() {
            let i = i as i64 + 1;
            books.put(acme(&format!("s{i}"), status, "10.00", i, i));
        }
        sync(&app).await;
        let client = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        assert_eq!(list(&app, &client, json!({})).await["totalCount"], 7);
        let first = list(&app, &client, json!({"s": "OPEN", "f": 3})).await;
        assert_eq!(first["totalCount"], 4);
        assert_eq!(numbers(&first), ["N-s1", "N-s3", "N-s5"]);
        assert_eq!(first["pageInfo"]["hasNextPage"], true);
        let rest = list(
            &app,
            &client,
            json!({"s": "OPEN", "f": 3, "a": first["pageInfo"]["endCursor"]}),
        )
        .await;
        assert_eq!(numbers(&rest), ["N-s7"]);
        assert_eq!(rest["pageInfo"]["hasNextPage"], false);
        assert_eq!(rest["totalCount"], 4);
        let paid = list(&app, &client, json!({"s": "PAID"})).await;
        assert_eq!(numbers(&paid), ["N-s2", "N-s6"]);
        assert!(
            paid["edges"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["node"]["status"] == "PAID")
        );
        let too_many = app.gql(Some(&client), LIST, json!({"f": 101})).await;
        assert_eq!(code(&too_many), Some("BAD_USER_INPUT"), "{too_many}");
        let garbage = app.gql(Some(&client), LIST, json!({"a": "nope"})).await;
        assert_eq!(code(&garbage), Some("BAD_USER_INPUT"), "{garbage}");
        // A Decimal is never a number in JSON.
        let text = serde_json::to_string(&first).unwrap();
        assert!(text.contains("\"amount\":\"10.00\""), "{text}");
    }
);

on_every_backend!(
    other_companies_and_tenants_see_none_of_it,
    env = [
        books::start(),
        ("BOOKS_SERVICE_KEY", books::KEY),
        ("UPSTREAM_TIMEOUT", "1s")
    ],
    |app| {
        let books = FakeBooks::of(&app);
        books.put(acme("mine", "open", "1.00", 1, 1));
        books.put(invoice(
            "acme", "co-2", "theirs", "open", "2.00", "2.00", 1, 2,
        ));
        // A tenant onegraph has never seen is created by the sync.
        books.put(invoice(
            "other",
            "co-1",
            "elsewhere",
            "open",
            "3.00",
            "3.00",
            1,
            3,
        ));
        let report = sync(&app).await;
        assert_eq!(counts(&report, "acme", "upserted"), 2);
        assert_eq!(counts(&report, "other", "upserted"), 1);

        let cleo = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        let dan = app
            .client_session("acme", "co-2", "dan@example.com", false)
            .await;
        let olga = app
            .client_session("other", "co-1", "olga@example.com", false)
            .await;
        let mine = list(&app, &cleo, json!({})).await;
        assert_eq!(numbers(&mine), ["N-mine"]);
        assert_eq!(mine["totalCount"], 1);
        let theirs = list(&app, &dan, json!({})).await;
        assert_eq!(numbers(&theirs), ["N-theirs"]);
        let elsewhere = list(&app, &olga, json!({})).await;
        assert_eq!(numbers(&elsewhere), ["N-elsewhere"]);
        assert_eq!(elsewhere["totalCount"], 1);

        let get = "query($id: ID!){ invoice(id: $id){ number } }";
        let mine_id = node(&mine, "N-mine")["id"].clone();
        let theirs_id = node(&theirs, "N-theirs")["id"].clone();
        assert_eq!(
            app.ok(&cleo, get, json!({"id": mine_id})).await["invoice"]["number"],
            "N-mine"
        );
        for (token, id) in [(&cleo, &theirs_id), (&dan, &mine_id), (&olga, &mine_id)] {
            let data = app.ok(token, get, json!({"id": id})).await;
            assert_eq!(data["invoice"], Value::Null, "{data}");
        }
        let data = app.ok(&cleo, get, json!({"id": "not-a-uuid"})).await;
        assert_eq!(data["invoice"], Value::Null);
        // Staff users hold no portal permission.
        let staff = app.admin("acme").await;
        let body = app.gql(Some(&staff), LIST, json!({})).await;
        assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
    }
);

on_every_backend!(
    books_failures_leave_stored_invoices_intact,
    env = [
        books::start(),
        ("BOOKS_SERVICE_KEY", books::KEY),
        ("UPSTREAM_TIMEOUT", "1s")
    ],
    |app| {
        let books = FakeBooks::of(&app);
        books.put(acme("f1", "open", "100.00", 1, 1));
        sync(&app).await;
        books.take_requests();
        let client = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        let expect_unchanged = |conn: Value| {
            assert_eq!(numbers(&conn), ["N-f1"], "{conn}");
            assert_eq!(node(&conn, "N-f1")["status"], "OPEN");
            assert_eq!(node(&conn, "N-f1")["balance"]["amount"], "100.00");
        };

        books.put(invoice(
            "acme", "co-1", "f1", "paid", "100.00", "0.00", 1, 10,
        ));
        books.put(acme("f2", "open", "5.00", 2, 11));
        for mode in [Mode::Fail500, Mode::Malformed, Mode::Slow] {
            books.set_mode(mode);
            assert_eq!(sync_fails(&app).await, "UPSTREAM_UNAVAILABLE", "{mode:?}");
            expect_unchanged(list(&app, &client, json!({})).await);
        }
        books.set_mode(Mode::Normal);

        // An amount that is not a decimal string stops the page before anything is stored.
        let mut bad = acme("f3", "open", "1e3", 3, 12);
        bad["balance"] = json!("1e3");
        books.put(bad);
        books.set_page_size(10);
        assert_eq!(sync_fails(&app).await, "UPSTREAM_UNAVAILABLE");
        expect_unchanged(list(&app, &client, json!({})).await);
        let mut numeric = acme("f3", "open", "1.00", 3, 12);
        numeric["total"] = json!(1000.5);
        books.put(numeric);
        assert_eq!(sync_fails(&app).await, "UPSTREAM_UNAVAILABLE");
        expect_unchanged(list(&app, &client, json!({})).await);

        // Failed runs did not move the cursor: every retry read from the first run's end
        // (less the overlap).
        let first_end = chrono::DateTime::parse_from_rfc3339(&at(1 - OVERLAP_MINUTES))
            .unwrap()
            .to_utc();
        let seen = books.take_requests();
        assert!(seen.len() >= 5);
        assert!(
            seen.iter().all(|s| s.updated_since == Some(first_end)),
            "{seen:?}"
        );

        // Once Books is healthy, a run catches up. An unknown status skips that invoice only.
        books.put(acme("f3", "open", "1000.00", 3, 12));
        books.put(acme("f4", "draft", "7.00", 4, 13));
        let report = sync(&app).await;
        assert_eq!(counts(&report, "acme", "upserted"), 3, "{report:?}");
        assert_eq!(report.errors.len(), 1, "{report:?}");
        assert!(report.errors[0].contains("draft"), "{report:?}");
        let all = list(&app, &client, json!({})).await;
        assert_eq!(numbers(&all), ["N-f1", "N-f2", "N-f3"]);
        assert_eq!(node(&all, "N-f1")["status"], "PAID");
        assert_eq!(node(&all, "N-f1")["balance"]["amount"], "0.00");
        assert_eq!(node(&all, "N-f3")["total"]["amount"], "1000.00");
    }
);

on_every_backend!(
    a_next_page_that_never_ends_is_cut_off,
    env = [
        books::start(),
        ("BOOKS_SERVICE_KEY", books::KEY),
        ("UPSTREAM_TIMEOUT", "1s")
    ],
    |app| {
        let books = FakeBooks::of(&app);
        books.put(acme("l1", "open", "1.00", 1, 1));
        books.set_mode(Mode::LoopBack);
        assert_eq!(sync_fails(&app).await, "UPSTREAM_UNAVAILABLE");
        assert_eq!(books.take_requests().len(), 1);
        books.set_mode(Mode::Endless);
        assert_eq!(sync_fails(&app).await, "UPSTREAM_UNAVAILABLE");
        assert_eq!(
            books.take_requests().len(),
            onegraph::jobs::invoices::MAX_PAGES as usize
        );
        // The cursor did not move: a healthy Books is read from the epoch again.
        books.set_mode(Mode::Normal);
        sync(&app).await;
        assert_eq!(
            books.take_requests()[0].updated_since,
            Some(chrono::DateTime::UNIX_EPOCH)
        );
    }
);

on_every_backend!(unconfigured_books_is_reported_as_such, |app| {
    assert_eq!(sync_fails(&app).await, "UPSTREAM_NOT_CONFIGURED");
});

on_every_backend!(
    unreachable_books_is_unavailable,
    env = [
        ("BOOKS_API_URL", "http://127.0.0.1:1"),
        ("BOOKS_SERVICE_KEY", books::KEY),
        ("UPSTREAM_TIMEOUT", "1s")
    ],
    |app| {
        assert_eq!(sync_fails(&app).await, "UPSTREAM_UNAVAILABLE");
    }
);

on_every_backend!(
    invoices_need_the_invoices_permission,
    env = [
        books::start(),
        ("BOOKS_SERVICE_KEY", books::KEY),
        ("UPSTREAM_TIMEOUT", "1s")
    ],
    |app| {
        let books = FakeBooks::of(&app);
        books.put(acme("p1", "open", "1.00", 1, 1));
        sync(&app).await;
        app.provision_client("acme", "co-1", "cleo@example.com", "client_user")
            .await;
        let token = app.mint(&app.client_claims(
            "acme",
            "cleo@example.com",
            Some(&["portal.tickets.view"]),
        ));
        let (status, body) = app.exchange(&token).await;
        assert_eq!(status, 200, "{body}");
        let session = body["session_token"].as_str().unwrap().to_owned();
        let body = app
            .gql(
                Some(&session),
                "{ invoices { totalCount } invoice(id: \"00000000-0000-4000-8000-000000000000\") { id } me { kind } }",
                json!({}),
            )
            .await;
        assert_eq!(body["data"]["invoices"], Value::Null, "{body}");
        assert_eq!(body["data"]["invoice"], Value::Null, "{body}");
        assert_eq!(body["data"]["me"]["kind"], "CLIENT", "{body}");
        let errors = body["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 2, "{body}");
        for error in errors {
            assert_eq!(error["extensions"]["code"], "FORBIDDEN");
            assert_eq!(error["extensions"]["permission"], "portal.invoices.view");
        }
        let anonymous = app.gql(None, LIST, json!({})).await;
        assert_eq!(code(&anonymous), Some("UNAUTHENTICATED"), "{anonymous}");
    }
);

on_every_backend!(
    an_invoice_page_costs_the_same_statements_whatever_its_length,
    env = [
        books::start(),
        ("BOOKS_SERVICE_KEY", books::KEY),
        ("UPSTREAM_TIMEOUT", "1s")
    ],
    |app| {
        let books = FakeBooks::of(&app);
        books.set_page_size(100);
        for i in 1..=60 {
            books.put(acme(&format!("c{i}"), "open", "1.00", i, i));
        }
        let report = sync(&app).await;
        assert_eq!(counts(&report, "acme", "upserted"), 60);
        let client = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        list(&app, &client, json!({"f": 5})).await;
        // The fewest statements of three requests: the server's background work (sweeps,
        // timers) may add to one window, never take away.
        let cost = |f: usize| {
            let app = &app;
            let client = client.clone();
            async move {
                let mut fewest = u64::MAX;
                for _ in 0..3 {
                    let before = app.statements().await;
                    let page = list(app, &client, json!({"f": f})).await;
                    assert_eq!(page["edges"].as_array().unwrap().len(), f);
                    fewest = fewest.min(app.statements().await - before);
                }
                fewest
            }
        };
        let five = cost(5).await;
        let fifty = cost(50).await;
        assert!(five > 0, "the list query ran statements");
        assert_eq!(five, fifty);
    }
);

on_every_backend!(
    books_answers_past_the_size_limit_fail_and_store_nothing,
    env = [
        books::start(),
        ("BOOKS_SERVICE_KEY", books::KEY),
        ("UPSTREAM_MAX_BODY", "16384")
    ],
    |app| {
        let books = FakeBooks::of(&app);
        books.put(acme("h1", "open", "100.00", 1, 1));
        books.set_mode(Mode::Huge);
        assert_eq!(sync_fails(&app).await, "UPSTREAM_UNAVAILABLE");
        let client = app
            .client_session("acme", "co-1", "cleo@example.com", false)
            .await;
        assert_eq!(
            numbers(&list(&app, &client, json!({})).await),
            Vec::<String>::new()
        );
        books.set_mode(Mode::Normal);
        sync(&app).await;
        assert_eq!(numbers(&list(&app, &client, json!({})).await), ["N-h1"]);
    }
);
