//! What the app's integration tests share: an app on loopback only, and a new workshop.

use commonground_api::{FrontReply, Request};
use commonground_app::{App, AppConfig, Methods};
use commonground_workshop::{Colour, WorkshopId};

/// An app in `dir` that listens on loopback only and looks for no one; with the web front
/// door on a free loopback port if `web`.
pub async fn app(dir: &std::path::Path, web: bool) -> App {
    let config = AppConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        web: web.then(|| "127.0.0.1:0".parse().unwrap()),
        methods: Methods { mdns: false, beacon: false, ..Methods::default() },
        ..AppConfig::desktop(dir.to_owned())
    };
    App::start(config).await.unwrap()
}

/// "Living Well", facilitated by Alex on this laptop.
pub async fn create(app: &App) -> WorkshopId {
    let reply = app
        .request(Request::CreateWorkshop {
            title: "Living Well".into(),
            purpose: "Design the crisis café together".into(),
            ground_rules: vec!["First names only".into()],
            name: "Alex".into(),
            colour: Colour::Sky,
        })
        .await
        .unwrap();
    let FrontReply::Opened { workshop } = reply else { panic!("{reply:?}") };
    workshop
}
