//! The commands that start things rather than ask the service: the terminal UI, the demo (a
//! training marketplace, a fresh store and the UI), `serve` (the daemon) and the training
//! marketplace on its own.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::Utc;

use packline::config::Config;
use packline::service::client::Client;
use packline::service::{Service, Settings};
use packline::store::{MasterSource, Store};

use super::{Ctx, Key, credentials};

fn keymap(cfg: &Config) -> Result<packline::tui::keymap::Keymap> {
    Ok(packline::tui::keymap::Keymap::load(
        cfg.tui.keymap.as_deref().unwrap_or("default"),
        cfg.tui.keymap_file.as_deref(),
    )?)
}

fn scan_timing(cfg: &Config) -> packline::tui::ScanTiming {
    let d = packline::tui::ScanTiming::default();
    packline::tui::ScanTiming {
        gap: cfg
            .tui
            .scan_gap_ms
            .map_or(d.gap, std::time::Duration::from_millis),
        min_len: cfg.tui.scan_min_len.unwrap_or(d.min_len),
    }
}

/// The scale at this bench, if it has one: the terminal's (`PACKLINE_SCALE`), the user's or
/// the site's.
fn attach_scale(cfg: &Config, app: &mut packline::tui::app::App) -> Result<()> {
    let terminal = std::env::var("PACKLINE_SCALE").ok();
    if let Some(spec) = cfg
        .floor
        .scale_for(&app.user, terminal.as_deref())
        .map_err(anyhow::Error::msg)?
    {
        app.attach_scale(spec);
    }
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// `packline` / `packline tui`: the terminal UI on a session like any command's.
pub fn tui(ctx: &Ctx) -> Result<ExitCode> {
    // A broken keymap is said first, terminal or not.
    let keymap = keymap(&ctx.cfg)?;
    if !std::io::stdout().is_terminal() {
        bail!(
            "the terminal UI needs a terminal; for scripts use `packline orders list` and friends"
        );
    }
    let s = ctx.session(Key::Needed)?;
    let client = s.client.clone();
    s.rt().block_on(async {
        let mut app = packline::tui::app::App::new(client, keymap).await?;
        attach_scale(&ctx.cfg, &mut app)?;
        packline::tui::run(app, scan_timing(&ctx.cfg)).await?;
        anyhow::Ok(())
    })?;
    s.finish()?;
    Ok(ExitCode::SUCCESS)
}

/// `packline demo`: the training marketplace in this process, a fresh store with a generated key
/// in a private temporary directory, one sync, then the TUI as a lead.
pub fn demo(ctx: &Ctx, orders: usize, seed: u64) -> Result<ExitCode> {
    use std::os::unix::fs::DirBuilderExt as _;
    if !std::io::stdout().is_terminal() {
        bail!("the demo opens the terminal UI and needs a terminal");
    }
    let keymap = keymap(&ctx.cfg)?;
    let dir = std::env::temp_dir().join(format!("packline-demo-{}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _cleanup = Cleanup(dir.clone());
    let data = dir.join("data");
    let key = dir.join("master.key");
    let now = Utc::now();
    Store::init_keys(
        &data,
        &MasterSource::IdentityFile(key.clone()),
        &ctx.user,
        now,
    )?;
    let mut store = Store::open(&data)?;
    store.unlock(&MasterSource::IdentityFile(key))?;
    let mut settings = Settings::from_config(&ctx.cfg, &ctx.user).map_err(anyhow::Error::msg)?;
    // Every SKU of the training catalogue gets a bin, so the pick list walks the floor in order.
    let catalogue = packline::marketplace::seed::OrderGenerator::new(seed, now).skus;
    let csv: String = (0..catalogue)
        .map(|i| format!("SKU-{:05},A-{:02}-{},\n", i + 1, i / 4 + 1, i % 4 + 1))
        .collect();
    settings.locations = packline::domain::Locations::from_csv(&csv).unwrap_or_default();
    settings.roles = packline::config::RolesConfig {
        leads: vec![ctx.user.clone()],
        ..Default::default()
    };
    settings.training = true;
    settings.sync_plan = packline::service::sync::SyncPlan {
        marketplace_ids: vec!["ATVPDKIKX0DER".into()],
        lookback_days: 30,
    };
    // Labels and slips print to files in the demo's own directory (removed on exit).
    let printed = dir.join("printed");
    std::fs::DirBuilder::new().mode(0o700).create(&printed)?;
    let printer = format!("file:{}", printed.display());
    settings.shipping = packline::config::ShippingConfig {
        seller_name: Some("Training Goods".into()),
        from: Some(packline::config::ShipFrom {
            name: "Training Goods".into(),
            line1: "1 Practice Way".into(),
            line2: None,
            city: "Seattle".into(),
            state: Some("WA".into()),
            postal_code: "98109".into(),
            country_code: "US".into(),
            phone: "2065550100".into(),
            email: "training@example.com".into(),
        }),
        label_format: Some("ZPL203".into()),
        label_printer: Some(printer.clone()),
        slip_printer: Some(printer),
        users: Default::default(),
        printers: Default::default(),
        api: packline::config::ShippingApi::ShippingV2,
        price_tolerance_percent: None,
        business_id: None,
    };
    let rt = runtime()?;
    let result = rt.block_on(async {
        // A closed SSH session (SIGHUP) or a stop (SIGTERM) still removes the demo's directory,
        // key included, and gives the terminal back.
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (mut hup, mut term) = (
                signal(SignalKind::hangup())?,
                signal(SignalKind::terminate())?,
            );
            let dir = dir.clone();
            tokio::spawn(async move {
                let code = tokio::select! {
                    _ = hup.recv() => 129,
                    _ = term.recv() => 143,
                };
                packline::tui::restore_terminal();
                let _ = std::fs::remove_dir_all(&dir);
                std::process::exit(code);
            });
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let market = packline::marketplace::server::MarketplaceConfig {
            orders,
            seed,
            quota_scale: 1.0,
            start: now - chrono::Duration::days(3) - chrono::Duration::hours(1),
            fault_rate: 0.0,
            faults: Vec::new(),
            fault_delay: std::time::Duration::from_secs(1),
            new_orders_per_minute: 0.5,
            cancel_rate: 0.2,
            cancel_request_rate: 0.1,
            unit_codes: true,
            rate_validity: packline::marketplace::server::MarketplaceConfig::RATE_VALIDITY,
        };
        tokio::spawn(packline::marketplace::server::serve(listener, market));
        let api = packline::amazon::client::SpApi::new(
            &url,
            &format!("{url}/auth/o2/token"),
            packline::amazon::client::Credentials {
                client_id: "training".into(),
                client_secret: "training".to_owned().into(),
                refresh_token: "training".to_owned().into(),
            },
            std::time::Duration::from_secs(10),
        )?;
        let service = Service::new(store, settings);
        service.set_amazon(Arc::new(api));
        service.sync_now(&ctx.user).await?;
        let client = Client::local(service, &ctx.user)?;
        let mut app = packline::tui::app::App::new(client, keymap).await?;
        app.printed_to = Some(printed.display().to_string());
        attach_scale(&ctx.cfg, &mut app)?;
        packline::tui::run(app, scan_timing(&ctx.cfg)).await?;
        anyhow::Ok(())
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    result?;
    Ok(ExitCode::SUCCESS)
}

/// `packline serve`: owns the store, serves the socket, syncs and purges on schedule, and
/// checkpoints the store at shutdown.
pub fn serve(ctx: &Ctx, socket: Option<PathBuf>) -> Result<ExitCode> {
    use packline::service::daemon::{DaemonOptions, run};
    let settings = Settings::from_config(&ctx.cfg, &ctx.user).map_err(anyhow::Error::msg)?;
    let mut store = ctx.open_store()?;
    if let Err(e) = ctx.try_unlock(&mut store, false) {
        tracing::warn!("serving locked: {e:#}");
        say!("packline: warning: serving locked ({e:#}); names are indexed at the next unlock");
    }
    let amazon = match credentials(&ctx.cfg) {
        Ok(creds) => {
            let endpoint = ctx.cfg.amazon.endpoint().map_err(anyhow::Error::msg)?;
            Some(Arc::new(
                packline::amazon::client::SpApi::new(
                    &endpoint,
                    &ctx.cfg.amazon.token_url(),
                    creds,
                    ctx.cfg.amazon.request_timeout(),
                )?
                .with_shipping_business(ctx.cfg.shipping_business()),
            ))
        }
        Err(e) => {
            say!("packline: sync is off: {e:#}");
            None
        }
    };
    let service = Service::new(store, settings);
    let opts = DaemonOptions {
        socket: socket.unwrap_or_else(|| ctx.cfg.service.socket_path()),
        socket_group: ctx.cfg.service.socket_group.clone(),
        amazon,
        sync_every: std::time::Duration::from_secs(300),
        purge_every: std::time::Duration::from_secs(24 * 3600),
        returns_every: std::time::Duration::from_secs(4 * 3600),
        user: ctx.user.clone(),
        site: ctx.cfg.site.name().map_err(anyhow::Error::msg)?,
    };
    let rt = runtime()?;
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    rt.block_on(run(service.clone(), opts, stop_rx))?;
    // With every task stopped, the store is checkpointed on the way out.
    rt.shutdown_timeout(std::time::Duration::from_secs(10));
    super::checkpoint(service, "at shutdown")?;
    Ok(ExitCode::SUCCESS)
}

/// `packline marketplace`: the training marketplace on a loopback address.
pub fn marketplace(a: super::args::MarketplaceArgs) -> Result<ExitCode> {
    let listen = a.listen;
    use std::io::Write as _;
    let faults = packline::marketplace::server::Fault::parse_list(&a.faults)
        .map_err(|e| anyhow::anyhow!("--faults: {e}"))?;
    if !(0.0..=1.0).contains(&a.fault_rate) {
        bail!("--fault-rate {}: must be between 0 and 1", a.fault_rate);
    }
    if !(0.0..=1.0).contains(&a.cancel_rate) {
        bail!("--cancel-rate {}: must be between 0 and 1", a.cancel_rate);
    }
    if !(0.0..=1.0).contains(&a.cancel_request_rate) {
        bail!(
            "--cancel-request-rate {}: must be between 0 and 1",
            a.cancel_request_rate
        );
    }
    if !(a.new_orders_per_minute.is_finite() && a.new_orders_per_minute >= 0.0) {
        bail!(
            "--new-orders-per-minute {}: must be zero or more",
            a.new_orders_per_minute
        );
    }
    if !listen.ip().is_loopback() {
        bail!("--listen {listen}: the training marketplace listens on loopback addresses only");
    }
    if !(a.quota_scale.is_finite() && a.quota_scale > 0.0) {
        bail!("--quota-scale {}: must be a positive number", a.quota_scale);
    }
    let cfg = packline::marketplace::server::MarketplaceConfig {
        orders: a.orders,
        seed: a.seed,
        quota_scale: a.quota_scale,
        // Every generated order lies in the past (they spread over three days from here).
        start: Utc::now() - chrono::Duration::days(3) - chrono::Duration::hours(1),
        fault_rate: a.fault_rate,
        faults,
        fault_delay: std::time::Duration::from_millis(a.fault_delay_ms),
        new_orders_per_minute: a.new_orders_per_minute,
        cancel_rate: a.cancel_rate,
        cancel_request_rate: a.cancel_request_rate,
        unit_codes: a.unit_codes,
        rate_validity: std::time::Duration::from_secs(a.rate_validity_secs),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let addr = listener.local_addr()?;
        writeln!(std::io::stdout(), "listening on http://{addr}")?;
        std::io::stdout().flush()?;
        tracing::info!(%addr, orders = cfg.orders, seed = cfg.seed, "training marketplace");
        tokio::select! {
            r = packline::marketplace::server::serve(listener, cfg) => r.context("serving"),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
