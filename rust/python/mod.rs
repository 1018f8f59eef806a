//! The pyo3 layer: converts Python arguments at the edge and calls the plain-Rust schemes.

mod adapted;
mod args;
mod arrow;
mod envelope;
mod framed;
mod model;
mod objects;
mod schemes;
mod stream;
mod webhooks;

use pyo3::prelude::*;

#[pymodule]
mod _native {
    #[pymodule_export]
    use super::webhooks::{
        linktor_signature, verify_linktor, verify_linktor_request, HmacVerifier, LinktorVerifier,
    };

    #[pymodule_export]
    use super::arrow::{_arrow_slots, _verify_arrow_batch};

    #[pymodule_export]
    use super::schemes::{
        Discord, GitHub, Linear, Meta, Shopify, Slack, StandardWebhook, Stripe, Twilio,
    };

    #[pymodule_export]
    use super::stream::StreamDecoder;

    #[pymodule_export]
    use super::envelope::EnvelopeDecoder;

    #[pymodule_export]
    use super::model::ModelPlan;

    #[pymodule_export]
    use super::adapted::{DialectPlan, LinktorRules, PendingEvent, RealtimeEvents, WebhookEvents};

    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        super::webhooks::add_constants_and_exceptions(m)?;
        super::stream::add_constants(m)
    }
}
