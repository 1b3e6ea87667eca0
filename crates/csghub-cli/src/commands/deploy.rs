//! `inference list|start|stop` and `finetune list|start|stop` (PYCSGHUB.md §3.8), with the
//! pycsghub bugs fixed: start/stop check the answer and report the new status, null fields do
//! not crash the list, and `list` finds the user from the token when `-u` is not given.

use csghub_api::endpoints;
use csghub_api::generated::Deploy;
use serde::Serialize;

use crate::cli::{DeployCommand, DeployIdArgs, DeployListArgs};
use crate::context::Ctx;
use crate::error::{CliError, Subject};
use crate::output::{sanitize, table};

/// Which kind of instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployKind {
    /// Inference endpoints (`run`).
    Inference,
    /// Fine-tune instances.
    Finetune,
}

impl DeployKind {
    fn noun(self) -> &'static str {
        match self {
            DeployKind::Inference => "inference instance",
            DeployKind::Finetune => "fine-tune instance",
        }
    }
}

/// One row of the list / result of start and stop.
#[derive(Debug, Serialize)]
struct DeployOut {
    id: i64,
    name: String,
    model: String,
    status: String,
}

impl From<&Deploy> for DeployOut {
    fn from(d: &Deploy) -> DeployOut {
        DeployOut {
            id: d.deploy_id,
            name: d.deploy_name.clone(),
            model: d.model_id.clone(),
            status: d.status.clone(),
        }
    }
}

/// Runs one `inference`/`finetune` subcommand.
pub async fn run(ctx: &Ctx, kind: DeployKind, cmd: DeployCommand) -> Result<(), CliError> {
    match cmd {
        DeployCommand::List(a) => list(ctx, kind, &a).await,
        DeployCommand::Start(a) => act(ctx, kind, &a, true).await,
        DeployCommand::Stop(a) => act(ctx, kind, &a, false).await,
    }
}

async fn list(ctx: &Ctx, kind: DeployKind, args: &DeployListArgs) -> Result<(), CliError> {
    ctx.require_token()?;
    let user = match &args.username {
        Some(u) => u.clone(),
        None => super::account::current_user(ctx).await?,
    };
    let subject = Subject::other(format!("the {}s of user {user}", kind.noun()));
    let per = args.limit.clamp(1, 100);
    if per != args.limit {
        ctx.out.warn(format_args!(
            "--limit {} is outside 1-100 (the server's page size); showing {per}",
            args.limit
        ));
    }
    let ep = match kind {
        DeployKind::Inference => endpoints::inference_list(&user, per, 1),
        DeployKind::Finetune => endpoints::finetune_list(&user, per, 1),
    }
    .map_err(|e| ctx.api_error(e, subject.clone()))?;
    let page = ctx.call(ep, &subject).await?;
    let rows: Vec<DeployOut> = page.items.iter().map(DeployOut::from).collect();
    if page.total > rows.len() as i64 {
        ctx.out.info(format_args!(
            "showing {} of {} {}s; raise --limit to see more",
            rows.len(),
            page.total,
            kind.noun()
        ));
    }
    ctx.out.emit(&rows, || {
        if rows.is_empty() {
            return format!("No {}s for user {}.", kind.noun(), sanitize(&user));
        }
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.id.to_string(),
                    sanitize(&r.name).into_owned(),
                    sanitize(&r.model).into_owned(),
                    sanitize(&r.status).into_owned(),
                ]
            })
            .collect();
        table(&["ID", "Name", "Model", "Status"], &cells)
    })
}

async fn act(
    ctx: &Ctx,
    kind: DeployKind,
    args: &DeployIdArgs,
    start: bool,
) -> Result<(), CliError> {
    ctx.require_token()?;
    let subject = Subject::other(format!("{} {} of {}", kind.noun(), args.id, args.model));
    let ep = match (kind, start) {
        (DeployKind::Inference, true) => endpoints::inference_start(&args.model, args.id),
        (DeployKind::Inference, false) => endpoints::inference_stop(&args.model, args.id),
        (DeployKind::Finetune, true) => endpoints::finetune_start(&args.model, args.id),
        (DeployKind::Finetune, false) => endpoints::finetune_stop(&args.model, args.id),
    };
    ctx.call(ep, &subject).await?;
    // The server answers start/stop with an empty body: read the instance back for its status
    // (inference only; there is no route for one fine-tune instance).
    let out = match kind {
        DeployKind::Inference => {
            let d = ctx
                .call(endpoints::inference_get(&args.model, args.id), &subject)
                .await?;
            let mut out = DeployOut::from(&d);
            out.id = args.id;
            if out.model.is_empty() {
                out.model = args.model.to_string();
            }
            out
        }
        DeployKind::Finetune => DeployOut {
            id: args.id,
            name: String::new(),
            model: args.model.to_string(),
            status: if start {
                "start requested"
            } else {
                "stop requested"
            }
            .into(),
        },
    };
    let verb = if start { "Started" } else { "Stopped" };
    ctx.out.emit(&out, || {
        format!(
            "{verb} {} {} of {}{}: status {}",
            kind.noun(),
            out.id,
            sanitize(&out.model),
            if out.name.is_empty() {
                String::new()
            } else {
                format!(" ({})", sanitize(&out.name))
            },
            sanitize(&out.status)
        )
    })
}
