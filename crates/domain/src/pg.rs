//! One round trip per statement, and several statements per round trip.
//!
//! `execute(&str)` first asks Postgres to describe the statement and waits for the answer,
//! then binds and executes: two round trips. `execute_typed` names the parameter types
//! itself and sends Parse, Bind, Execute and Sync at once: one. tokio-postgres pipelines
//! the requests of futures polled together: they are queued in the order they are first
//! polled, go out in one write, and Postgres runs them in that order.
//!
//! Through Hyperdrive every round trip is a network turn (and under `wrangler dev` the
//! local Hyperdrive proxy adds ~40 ms to many of them: Nagle's algorithm against delayed
//! ACKs), so the sync's hot path uses these helpers: see `cargo xtask bench sync`.

use chrono::{DateTime, Utc};
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

/// The Postgres type a Rust value is sent as.
pub trait PgType {
    const TYPE: Type;
}

macro_rules! pg_types {
    ($($rust:ty => $pg:ident),* $(,)?) => {
        $(impl PgType for $rust { const TYPE: Type = Type::$pg; })*
    };
}

pg_types! {
    bool => BOOL,
    i32 => INT4,
    i64 => INT8,
    String => TEXT,
    &str => TEXT,
    &[u8] => BYTEA,
    Vec<u8> => BYTEA,
    Uuid => UUID,
    DateTime<Utc> => TIMESTAMPTZ,
    serde_json::Value => JSONB,
    Vec<String> => TEXT_ARRAY,
    Vec<Option<String>> => TEXT_ARRAY,
    Vec<i32> => INT4_ARRAY,
    Vec<Option<i32>> => INT4_ARRAY,
    Vec<i64> => INT8_ARRAY,
}

impl<T: PgType> PgType for Option<T> {
    const TYPE: Type = T::TYPE;
}

impl<T: PgType> PgType for &T {
    const TYPE: Type = T::TYPE;
}

/// A parameter of `execute_typed` / `query_typed`.
pub type Param<'a> = (&'a (dyn ToSql + Sync), Type);

/// `p(&value)`: the value with its Postgres type.
pub fn p<T: ToSql + Sync + PgType>(value: &T) -> Param<'_> {
    (value, T::TYPE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_carry_the_postgres_type_of_their_rust_type() {
        let gids = vec!["a".to_owned()];
        let id = Uuid::nil();
        let resource = "orders";
        assert_eq!(p(&gids).1, Type::TEXT_ARRAY);
        assert_eq!(p(&7_i32).1, Type::INT4);
        assert_eq!(p(&id).1, Type::UUID);
        assert_eq!(p(&resource).1, Type::TEXT);
        assert_eq!(p(&Some(3_i64)).1, Type::INT8);
        assert_eq!(p(&serde_json::json!({})).1, Type::JSONB);
    }
}
