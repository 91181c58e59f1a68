//! `siemfwd demo`: the whole pipeline with nothing to set up. A simulator of Entra ID and the
//! alerts API (`/api/alerts`, or Graph's `alerts_v2` with `--api graph`) starts in this process
//! with a few tenants; a config pointing at it is written to
//! a temp folder; then the alerts of the last day are replayed through the real fetcher (HTTP,
//! tokens, paging), the mapping and an output: stdout, or a syslog receiver with `--to`.

use std::io::Write;

use anyhow::Context;

use super::{DemoArgs, ReplayArgs};
use siemfwd::mapping::Format;
use siemfwd_simulator::{Simulator, SimulatorConfig};

pub fn demo(args: &DemoArgs, err: &mut dyn Write) -> anyhow::Result<u8> {
    let dir = std::env::temp_dir().join(format!("siemfwd-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let result = demo_in(args, &dir, err);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn demo_in(args: &DemoArgs, dir: &std::path::Path, err: &mut dyn Write) -> anyhow::Result<u8> {
    // The simulator gets its own runtime on its own thread; the replay below builds another.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let sim_config = SimulatorConfig {
        tenants: args.tenants,
        alerts_per_tenant: args.alerts,
        seed: args.seed,
        ..SimulatorConfig::default()
    };
    let simulator = std::thread::spawn(move || -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        rt.block_on(async {
            let sim = Simulator::start(std::net::SocketAddr::from(([127, 0, 0, 1], 0)), sim_config)
                .await?;
            let tenants: Vec<(String, String)> =
                sim.tenants().into_iter().map(|t| (t.name, t.id)).collect();
            let _ = ready_tx.send((
                sim.url().to_owned(),
                sim.client_id().to_owned(),
                sim.client_secret().to_owned(),
                tenants,
            ));
            let _ = stop_rx.await;
            sim.shutdown().await;
            Ok(())
        })
    });
    let (url, client_id, secret, tenants) =
        ready_rx.recv().context("the simulator did not start")?;
    std::fs::write(dir.join("app.secret"), &secret)?;
    let format = args.format.unwrap_or(Format::Cef);
    let mut config = format!(
        "# written by `siemfwd demo`\nstate_dir = \"{state}\"\n\n[defaults]\nclient_id = \"{client_id}\"\nclient_secret_file = \"{secret_file}\"\nlogin_url = \"{url}\"\napi = \"{api}\"\napi_url = \"{url}\"\n",
        state = dir.join("state").display(),
        secret_file = dir.join("app.secret").display(),
        api = args.api,
    );
    for (name, id) in &tenants {
        config.push_str(&format!(
            "\n[[tenant]]\nname = \"{name}\"\ntenant_id = \"{id}\"\n"
        ));
    }
    match &args.to {
        None => config.push_str(&format!(
            "\n[[output]]\nname = \"demo\"\ntype = \"stdout\"\nformat = \"{format}\"\n"
        )),
        Some(address) => config.push_str(&format!(
            "\n[[output]]\nname = \"demo\"\ntype = \"tcp\"\naddress = \"{address}\"\nformat = \"{format}\"\ndelivery_timeout = \"10s\"\n"
        )),
    }
    let config_path = dir.join("siemfwd.toml");
    std::fs::write(&config_path, &config)?;
    let _ = writeln!(
        err,
        "siemfwd demo: a simulated Entra ID and {} at {url} with {} tenants of {} alerts; replaying the last 25 hours to {}",
        if args.api == "graph" {
            "Microsoft Graph alerts_v2 (with other Defender products' alerts)"
        } else {
            "alerts API"
        },
        tenants.len(),
        args.alerts,
        args.to.as_deref().unwrap_or("stdout")
    );
    let replay = ReplayArgs {
        config: config_path,
        from: "-25h".into(),
        to: "now".into(),
        tenant: Vec::new(),
        output: Vec::new(),
        stdout: false,
        format: None,
    };
    let status = super::forward::replay(&replay, err);
    let _ = stop_tx.send(());
    match simulator.join() {
        Ok(r) => r?,
        Err(_) => anyhow::bail!("the simulator thread panicked"),
    }
    status
}
