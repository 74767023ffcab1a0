//! Hub Billing usage against a fake Hub over real HTTP: each tenant's month-to-date count
//! of active locations, one report per tenant, period and day, the previous month's final
//! count first on the 1st, the timer waiting for `BILLING_USAGE_AT`, and a Hub outage
//! followed by exactly one accepted report.

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use onegraph::jobs::{Job, Trigger, execute_as, run_now};
use serde_json::{Value, json};

use crate::support::{
    fake::{FakeServer, Mode},
    *,
};

const PATH: &str = "/api/hub/billing/usage/report";
const KEY: &str = "bus-integration-key-for-billing-tests";

async fn start(backend: Backend) -> (TestApp, FakeServer) {
    let hub = FakeServer::start(PATH).await;
    let base = hub.url().trim_end_matches(PATH).to_owned();
    let app = TestApp::spawn_on(
        backend,
        &[
            ("HUB_API_URL", base.as_str()),
            ("BUS_INTEGRATION_KEY", KEY),
            ("UPSTREAM_TIMEOUT", "1s"),
        ],
    )
    .await;
    (app, hub)
}

/// Tenant `acme`: three locations, visits at two of them (one twice); tenant `beta`: one
/// location with a visit.
async fn seed(app: &TestApp) -> (String, String) {
    let acme = app.admin("billing-acme").await;
    let beta = app.admin("billing-beta").await;
    let lobby = app.create_location(&acme, "Lobby").await;
    let dock = app.create_location(&acme, "Dock").await;
    app.create_location(&acme, "Attic").await;
    app.check_in(&acme, &lobby, "Ann").await;
    app.check_in(&acme, &lobby, "Bob").await;
    app.check_in(&acme, &dock, "Cy").await;
    let office = app.create_location(&beta, "Office").await;
    app.check_in(&beta, &office, "Dee").await;
    (tenant_id("billing-acme"), tenant_id("billing-beta"))
}

/// The accepted reports' bodies, in the order Hub took them.
fn accepted(hub: &FakeServer) -> Vec<Value> {
    hub.accepted().iter().map(|r| r.json()).collect()
}

fn of<'a>(reports: &'a [Value], tenant: &str) -> Vec<&'a Value> {
    reports
        .iter()
        .filter(|r| r["tenant_id"] == tenant)
        .collect()
}

on_every_backend!(
    active_locations_are_reported_once_a_day,
    |backend: Backend| {
        let (app, hub) = start(backend).await;
        let (acme, beta) = seed(&app).await;
        let admin = app.admin("billing-acme").await;

        // Run by hand: the day's reports go at once.
        let data = app
            .ok(
                &admin,
                "mutation { runSync(job: BILLING_USAGE) { ok summary } }",
                json!({}),
            )
            .await;
        assert_eq!(data["runSync"]["ok"], true, "{data}");
        assert_eq!(data["runSync"]["summary"], "reported=1", "{data}");

        let today = Utc::now().date_naive();
        let reports = accepted(&hub);
        let acme_reports = of(&reports, &acme);
        assert_eq!(acme_reports.len(), 1, "{reports:?}");
        assert_eq!(
            *acme_reports[0],
            json!({
                "product": "visitor",
                "tenant_id": acme,
                "metric": "active_locations",
                "quantity": 2,
                "period": today.format("%Y-%m").to_string(),
                "reported_on": today.to_string(),
            })
        );
        assert_eq!(of(&reports, &beta)[0]["quantity"], 1);
        let request = &hub.accepted()[0];
        assert_eq!(
            request.header("authorization"),
            Some(&*format!("Bearer {KEY}"))
        );
        assert!(
            request
                .header("idempotency-key")
                .is_some_and(|k| k.len() == 36)
        );

        // The same day again: nothing new is sent, whatever starts the run.
        run_now(&app.state, Job::BillingUsage).await.expect("run");
        app.state.clock.set(Some(Utc::now() + Duration::seconds(1)));
        execute_as(&app.state, Job::BillingUsage, Trigger::Timer)
            .await
            .expect("timer run");
        assert_eq!(hub.received().len(), 2, "{:?}", accepted(&hub));
    }
);

on_every_backend!(the_timer_waits_for_billing_usage_at, |backend: Backend| {
    let (app, hub) = start(backend).await;
    seed(&app).await;
    let tomorrow = Utc::now().date_naive() + Duration::days(1);
    let at = |h, m| Utc.from_utc_datetime(&tomorrow.and_hms_opt(h, m, 0).unwrap());
    // 00:30 is before the default 00:58: the timer plans nothing yet.
    app.state.clock.set(Some(at(0, 30)));
    execute_as(&app.state, Job::BillingUsage, Trigger::Timer)
        .await
        .expect("timer run");
    assert!(hub.received().is_empty(), "{:?}", accepted(&hub));
    // At 01:00 it does.
    app.state.clock.set(Some(at(1, 0)));
    execute_as(&app.state, Job::BillingUsage, Trigger::Timer)
        .await
        .expect("timer run");
    let reports = accepted(&hub);
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(
        reports
            .iter()
            .all(|r| r["reported_on"] == tomorrow.to_string())
    );
});

on_every_backend!(
    the_first_of_a_month_reports_the_previous_month_first,
    |backend: Backend| {
        let (app, hub) = start(backend).await;
        let (acme, _) = seed(&app).await;
        let today = Utc::now().date_naive();
        let first_of_next = if today.month() == 12 {
            NaiveDate::from_ymd_opt(today.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(today.year(), today.month() + 1, 1)
        }
        .unwrap();
        app.state.clock.set(Some(
            Utc.from_utc_datetime(&first_of_next.and_hms_opt(1, 0, 0).unwrap()),
        ));
        run_now(&app.state, Job::BillingUsage).await.expect("run");
        let reports = accepted(&hub);
        let acme_reports = of(&reports, &acme);
        assert_eq!(acme_reports.len(), 2, "{reports:?}");
        // Last month's final count first, then the new month's (no check-ins yet).
        assert_eq!(acme_reports[0]["period"], today.format("%Y-%m").to_string());
        assert_eq!(acme_reports[0]["quantity"], 2);
        assert_eq!(acme_reports[0]["reported_on"], first_of_next.to_string());
        assert_eq!(
            acme_reports[1]["period"],
            first_of_next.format("%Y-%m").to_string()
        );
        assert_eq!(acme_reports[1]["quantity"], 0);
    }
);

on_every_backend!(
    a_hub_outage_ends_in_exactly_one_accepted_report,
    |backend: Backend| {
        let (app, hub) = start(backend).await;
        let (acme, _) = seed(&app).await;
        let now = Utc::now();

        // Hub answers 500: the reports stay pending and the run says so.
        hub.set_mode(Mode::Status(500));
        let record = run_now(&app.state, Job::BillingUsage).await.expect("run");
        assert_eq!(record.ok, Some(false));
        assert!(hub.accepted().is_empty());
        let first_keys: Vec<String> = hub
            .received()
            .iter()
            .filter_map(|r| r.header("idempotency-key").map(str::to_owned))
            .collect();
        assert_eq!(first_keys.len(), 2);

        // Not due again yet (backoff): a run right away sends nothing.
        run_now(&app.state, Job::BillingUsage).await.expect("run");
        assert_eq!(hub.received().len(), 2);

        // Hub hangs past the timeout: still pending.
        hub.set_mode(Mode::Hang);
        app.state.clock.set(Some(now + Duration::minutes(2)));
        run_now(&app.state, Job::BillingUsage).await.expect("run");
        assert!(hub.accepted().is_empty());
        assert_eq!(hub.received().len(), 4);

        // Hub is back: each report is accepted once, with the key of its first attempt.
        hub.set_mode(Mode::Ok);
        app.state.clock.set(Some(now + Duration::minutes(10)));
        let record = run_now(&app.state, Job::BillingUsage).await.expect("run");
        assert_eq!(record.ok, Some(true), "{:?}", record.error);
        let taken = hub.accepted();
        assert_eq!(taken.len(), 2);
        for request in &taken {
            let key = request.header("idempotency-key").expect("key");
            assert!(first_keys.iter().any(|k| k == key), "{key} is a new key");
        }
        assert_eq!(of(&accepted(&hub), &acme)[0]["quantity"], 2);

        // Later runs, that day and after the backoff, send nothing more.
        app.state.clock.set(Some(now + Duration::hours(3)));
        run_now(&app.state, Job::BillingUsage).await.expect("run");
        assert_eq!(hub.accepted().len(), 2);
    }
);

on_every_backend!(billing_without_hub_is_not_configured, |app| {
    let admin = app.admin("billing-bare").await;
    let body = app
        .gql(
            Some(&admin),
            "mutation { runSync(job: BILLING_USAGE) { ok } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&body), Some("UPSTREAM_NOT_CONFIGURED"), "{body}");
});
