//! `fermyon:spin/llm@2.0.0`: the local runner has no models, so every call
//! answers `model-not-supported`, which is what Spin answers for a model
//! the component may not use. Components must handle it.

use crate::spin_bindings::platform::fermyon::spin::llm::{
    self, EmbeddingsResult, Error, InferencingParams, InferencingResult,
};
use crate::state::HostState;

impl llm::Host for HostState {
    async fn infer(
        &mut self,
        _model: String,
        _prompt: String,
        _params: Option<InferencingParams>,
    ) -> wasmtime::Result<Result<InferencingResult, Error>> {
        Ok(Err(Error::ModelNotSupported))
    }

    async fn generate_embeddings(
        &mut self,
        _model: String,
        _text: Vec<String>,
    ) -> wasmtime::Result<Result<EmbeddingsResult, Error>> {
        Ok(Err(Error::ModelNotSupported))
    }
}
