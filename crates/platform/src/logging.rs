//! JSON log lines to the Workers console, set up once per isolate. Span fields (the
//! request id among them) are included in every line.

use tracing_subscriber::fmt::time::UtcTime;
use tracing_subscriber::prelude::*;
use tracing_web::MakeConsoleWriter;

pub fn init() {
    let fmt_layer = tracing_subscriber::fmt::layer()
        .json()
        .with_ansi(false)
        .with_current_span(true)
        .with_span_list(false)
        .with_timer(UtcTime::rfc_3339())
        .with_writer(MakeConsoleWriter);
    let _ = tracing_subscriber::registry().with(fmt_layer).try_init();
}
