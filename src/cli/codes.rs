//! `codes`: the table of error codes, as text or as the Markdown of docs/ERRORS.md.

use std::process::ExitCode;

use recovery_updater::error;

#[derive(clap::Args)]
pub struct CodesArgs {
    #[arg(long)]
    markdown: bool,
}

pub fn codes(args: CodesArgs) -> anyhow::Result<ExitCode> {
    if args.markdown {
        print!("{}", error::errors_markdown());
    } else {
        for i in error::TABLE {
            println!(
                "{} {:<32} {}\n     fix: {}",
                i.number, i.name, i.meaning, i.fix
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
