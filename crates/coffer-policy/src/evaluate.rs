//! Policy evaluation internals (statement matching, conditions, variables).
//! Placeholder until the evaluator lands: nothing matches.

use crate::document::PolicyDocument;
use crate::eval::{Decision, EvalRequest, ResourceDecision};

pub(crate) fn identity(_docs: &[&PolicyDocument], _req: &EvalRequest<'_>) -> Decision {
    Decision::NotApplicable
}

pub(crate) fn resource(_doc: &PolicyDocument, _req: &EvalRequest<'_>) -> ResourceDecision {
    ResourceDecision::default()
}
