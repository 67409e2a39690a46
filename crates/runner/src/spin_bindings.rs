//! Host bindings for the Spin 2.0 interfaces in the repository's `wit/`
//! (key-value, sqlite, variables, llm) and the cron trigger's export.

pub mod platform {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "careflow:app/runner-host",
        imports: { default: async | trappable },
        with: {
            "fermyon:spin/key-value.store": crate::key_value::OpenStore,
            "fermyon:spin/sqlite.connection": crate::sqlite::OpenConnection,
        },
    });
}

pub mod cron {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "careflow:app/cron-component",
        exports: { default: async },
    });
}
