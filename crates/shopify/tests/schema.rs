//! Every document the client sends validates against the real Admin API schema (2026-01),
//! read where it lies: `../shared/shopify/admin-2026-01.graphql` from the project root, or
//! the path in `SHOPIFY_ADMIN_SCHEMA` (which `scripts/test` sets when the checkout is a clone
//! of one that has `shared/` beside it).
#![allow(clippy::unwrap_used)] // test helpers: a panic is how a test reports failure

use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use std::path::PathBuf;
use std::sync::OnceLock;

fn schema() -> &'static Valid<Schema> {
    static SCHEMA: OnceLock<Valid<Schema>> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = std::env::var_os("SHOPIFY_ADMIN_SCHEMA")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/shopify/admin-2026-01.graphql")
            });
        let sdl = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "the Admin API schema is absent at {} ({e}); see ../shared/shopify/SOURCE.md",
                path.display()
            )
        });
        let schema = Schema::parse(&sdl, "admin-2026-01.graphql").unwrap();
        // The SDL is a third party's conversion of Shopify's introspection; documents are
        // validated strictly against it, the SDL itself is taken as given.
        Valid::assume_valid(schema)
    })
}

#[test]
fn every_document_validates_against_the_admin_schema() {
    for (name, document) in shopify::documents::all() {
        if let Err(errors) = ExecutableDocument::parse_and_validate(schema(), &document, name) {
            panic!("{name} does not validate:\n{errors}");
        }
    }
}

#[test]
fn the_validator_rejects_an_unknown_field() {
    let bad = "query { shop { id notAField } }";
    assert!(ExecutableDocument::parse_and_validate(schema(), bad, "bad").is_err());
}

#[test]
fn group_objects_is_false_in_the_run_mutation() {
    assert!(shopify::documents::RUN_BULK_QUERY.contains("groupObjects: false"));
}
