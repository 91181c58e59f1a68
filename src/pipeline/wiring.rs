//! What `run` and `replay` build alike from the config: the outputs with their dead-letter
//! files, the outputs each tenant is routed to, and the tenants' API clients over shared HTTP
//! clients and one page budget.

use std::path::Path;
use std::sync::Arc;

use crate::config::Config;
use crate::source::http::{ClientCache, HttpSetupError};
use crate::source::{AlertsClient, PageBudget, TenantConfig};
use crate::transport::{DeadLetters, Output, OutputConfig, OutputError};

/// Pages held at once by all tenants together: two keep both cores busy (one parsing while the
/// next arrives) and bound memory to two pages however many tenants there are.
pub const PAGES_IN_FLIGHT: usize = 2;

/// Outputs by name, in the order the config lists them.
pub type NamedOutputs = Vec<(String, Arc<Output>)>;

/// Starts `outputs` (on the current runtime), each with its dead-letter file in `state_dir`.
pub fn start_outputs<'a>(
    config: &Config,
    outputs: impl IntoIterator<Item = &'a OutputConfig>,
) -> Result<NamedOutputs, OutputError> {
    outputs
        .into_iter()
        .map(|o| {
            let dead = DeadLetters::new(config.dead_letter_path(&o.name));
            Ok((o.name.clone(), Arc::new(Output::start(o, Some(dead))?)))
        })
        .collect()
}

/// Which outputs a tenant's alerts go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// The tenant's `outputs`, or all when it names none.
    AsConfigured,
    /// Every output given (`replay --output NAME` or `--stdout`), whatever the tenant names.
    All,
}

/// The outputs of `outputs` that `tenant` sends to.
pub fn routed(tenant: &TenantConfig, outputs: &NamedOutputs, routing: Routing) -> Vec<Arc<Output>> {
    outputs
        .iter()
        .filter(|(name, _)| {
            routing == Routing::All || tenant.outputs.as_ref().is_none_or(|o| o.contains(name))
        })
        .map(|(_, o)| o.clone())
        .collect()
}

/// The API clients of many tenants: one HTTP client per proxy, CA and timeout, and one budget
/// of pages held and calls in flight for all.
pub struct Clients {
    http: ClientCache,
    budget: Arc<PageBudget>,
}

impl Clients {
    /// Clients sharing [`PAGES_IN_FLIGHT`] pages and `calls_in_flight` calls
    /// (`max_calls_in_flight`).
    pub fn new(calls_in_flight: usize) -> Clients {
        Clients {
            http: ClientCache::default(),
            budget: PageBudget::with_calls(PAGES_IN_FLIGHT, calls_in_flight),
        }
    }

    /// What a client of `tenant` is built from, to build one (again) with [`client`].
    pub fn parts_for(
        &mut self,
        tenant: &TenantConfig,
    ) -> Result<(reqwest::Client, Arc<PageBudget>), HttpSetupError> {
        Ok((self.http.client_for(tenant)?, self.budget.clone()))
    }

    /// A client of `tenant`, its tokens kept in `state_dir`.
    pub fn client_for(
        &mut self,
        tenant: Arc<TenantConfig>,
        state_dir: &Path,
    ) -> Result<AlertsClient, HttpSetupError> {
        let (http, budget) = self.parts_for(&tenant)?;
        Ok(client(tenant, http, budget, state_dir))
    }
}

/// An API client of `tenant` over a shared HTTP client and page budget.
pub fn client(
    tenant: Arc<TenantConfig>,
    http: reqwest::Client,
    budget: Arc<PageBudget>,
    state_dir: &Path,
) -> AlertsClient {
    let mut client = AlertsClient::with_http(tenant, http, state_dir);
    client.share_page_budget(budget);
    client
}
