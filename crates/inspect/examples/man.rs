//! Writes the man pages of dcf-inspect, made from its clap definition, into the directory
//! given: dcf-inspect.1 and one dcf-inspect-<command>.1 per command. `make deb` and
//! `make rpm` run it; nothing generated is kept in the source tree.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_mangen::roff::{roman, Roff};
use clap_mangen::Man;

#[path = "../src/cli.rs"]
#[allow(dead_code)]
mod cli;

const EXIT_STATUS: [(&str, &str); 4] = [
    ("0", "success (verify: every record intact)"),
    ("1", "damage or a torn tail found, or an operation failed"),
    ("2", "bad usage"),
    (
        "3",
        "the data directory is in use: a running node holds its LOCK",
    ),
];

fn write_page(dir: &Path, name: &str, render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
    let path = dir.join(format!("{name}.1"));
    let mut out = BufWriter::new(File::create(&path).unwrap_or_else(|e| {
        panic!("creating {}: {e}", path.display());
    }));
    render(&mut out)
        .and_then(|()| out.flush())
        .unwrap_or_else(|e| {
            panic!("writing {}: {e}", path.display());
        });
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: man OUTPUT_DIR"));
    std::fs::create_dir_all(&dir).expect("creating the output directory");
    let cmd = cli::Cli::command();
    let version = cmd.get_version().unwrap_or_default().to_string();
    let subs: Vec<clap::Command> = cmd.get_subcommands().cloned().collect();

    let man = Man::new(cmd.clone()).source(format!("libdcf {version}"));
    write_page(&dir, "dcf-inspect", |w| {
        man.render_title(w)?;
        man.render_name_section(w)?;
        man.render_synopsis_section(w)?;
        man.render_description_section(w)?;
        man.render_options_section(w)?;
        man.render_subcommands_section(w)?;
        let mut roff = Roff::new();
        roff.control("SH", ["EXIT STATUS"]);
        for (code, meaning) in EXIT_STATUS {
            roff.control("TP", [])
                .text([roman(code)])
                .text([roman(meaning)]);
        }
        roff.control("SH", ["SEE ALSO"]);
        let pages: Vec<String> = subs
            .iter()
            .map(|s| format!("dcf-inspect-{}(1)", s.get_name()))
            .collect();
        roff.text([roman(pages.join(", "))]);
        roff.to_writer(w)?;
        man.render_version_section(w)
    });
    for sub in subs {
        // clap takes names as &'static str (without its `string` feature); this program
        // writes a few pages and exits.
        let name: &'static str = format!("dcf-inspect-{}", sub.get_name()).leak();
        let bin: &'static str = format!("dcf-inspect {}", sub.get_name()).leak();
        let page = Man::new(sub.name(name).bin_name(bin)).source(format!("libdcf {version}"));
        write_page(&dir, name, |w| page.render(w));
    }
}
