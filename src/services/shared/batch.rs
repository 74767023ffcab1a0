//! The statements behind the GraphQL DataLoaders: one statement per batch of keys, confined
//! to the caller's tenant. The per-product batch functions (`visitor::batch`,
//! `portal::batch`) build on the scope and the window query here.

use std::{collections::HashMap, sync::Arc};

use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, Iterable, Order, QueryFilter,
    sea_query::{Alias, Expr, ExprTrait, Query, WindowStatement},
};

use crate::{auth::Principal, error::AppResult};

/// What a batch needs: the pool and the tenant every row must belong to. Made once per
/// request and cloned into each DataLoader.
#[derive(Clone)]
pub struct TenantScope {
    db: DatabaseConnection,
    tenant_id: Arc<str>,
}

impl TenantScope {
    /// The scope of one request of `principal` (none: a scope that finds nothing).
    pub fn new(db: &DatabaseConnection, principal: Option<&Principal>) -> Self {
        TenantScope {
            db: db.clone(),
            tenant_id: Arc::from(principal.map_or("", |p| p.tenant_id.as_str())),
        }
    }
}

/// The tenant's rows of `E` whose `id` column is in `keys`, by that id: one `IN (…)`
/// statement.
pub async fn by_ids<E>(
    scope: &TenantScope,
    tenant: E::Column,
    id: E::Column,
    keys: &[String],
    id_of: impl Fn(&E::Model) -> String,
) -> AppResult<HashMap<String, E::Model>>
where
    E: EntityTrait,
{
    let rows = E::find()
        .filter(tenant.eq(&*scope.tenant_id))
        .filter(id.is_in(keys.iter().cloned()))
        .all(&scope.db)
        .await?;
    Ok(rows.into_iter().map(|r| (id_of(&r), r)).collect())
}

/// The first `limit` rows per key of `E`, in `order`, for the tenant's rows whose `key` is in
/// `keys` and that match `extra`: one statement however many keys, and never more than
/// `limit` rows per key (the first of the pair `(limit, max_rows)`) (`ROW_NUMBER()` over each key's partition, SQLite 3.25+ and
/// PostgreSQL) nor `max_rows` in all (a caller that may hold no more than N rows asks for
/// N + 1 and refuses when it gets them, without reading the rest).
pub async fn first_per_key<E>(
    scope: &TenantScope,
    tenant: E::Column,
    key: E::Column,
    keys: &[String],
    extra: Condition,
    order: &[(E::Column, Order)],
    (limit, max_rows): (usize, usize),
) -> AppResult<Vec<E::Model>>
where
    E: EntityTrait,
{
    let mut window = WindowStatement::partition_by((E::default(), key));
    for (column, direction) in order {
        window.order_by((E::default(), *column), direction.clone());
    }
    let ranked = Query::select()
        .columns(E::Column::iter().map(|c| (E::default(), c)))
        .expr_window_as(Expr::cust("ROW_NUMBER()"), window, Alias::new("rn"))
        .from(E::default())
        .cond_where(
            Condition::all()
                .add(Expr::col((E::default(), tenant)).eq(&*scope.tenant_id))
                .add(Expr::col((E::default(), key)).is_in(keys.iter().cloned()))
                .add(extra),
        )
        .to_owned();
    let mut outer = Query::select();
    outer
        .columns(E::Column::iter().map(|c| (Alias::new("ranked"), c)))
        .from_subquery(ranked, Alias::new("ranked"))
        .and_where(Expr::col((Alias::new("ranked"), Alias::new("rn"))).lte(limit as i64));
    for (column, direction) in order {
        outer.order_by((Alias::new("ranked"), *column), direction.clone());
    }
    outer.limit(u64::try_from(max_rows).unwrap_or(u64::MAX));
    let stmt = scope.db.get_database_backend().build(&outer);
    Ok(E::find().from_raw_sql(stmt).all(&scope.db).await?)
}

/// `rows` grouped by `key`, each group in the order of `rows`.
pub fn group<T>(rows: Vec<T>, key: impl Fn(&T) -> String) -> HashMap<String, Vec<T>> {
    let mut map: HashMap<String, Vec<T>> = HashMap::new();
    for row in rows {
        map.entry(key(&row)).or_default().push(row);
    }
    map
}

/// The distinct keys of `ids`, in first-seen order.
pub fn distinct<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.filter(|id| seen.insert(*id))
        .map(str::to_owned)
        .collect()
}
