"""somebound customers import|export|erase and link, through the real CLI parser."""

from __future__ import annotations

import json

from somebound.cli import main
from somebound.identity import synthetic

from .test_service import write_crm


def test_import_export_erase_cli(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    csv_path = tmp_path / "crm.csv"
    csv_path.write_text(
        "customer_number,display_name,email\nC1,Matti Virtanen,m@x.fi\nC2,Bad Row,not-mail\n"
    )
    assert main(["customers", "import", str(csv_path), "--db", db, "--create-tables"]) == 0
    out = capsys.readouterr()
    assert "1 created" in out.out and "1 bad rows skipped" in out.out
    assert f"{csv_path}:3: email 'not-mail' is not an e-mail address" in out.err

    export = tmp_path / "c1.json"
    assert main(["customers", "export", "1", "--db", db, "-o", str(export)]) == 0
    assert json.loads(export.read_text())["customer"]["display_name"] == "Matti Virtanen"

    assert main(["customers", "erase", "1", "--db", db, "--reason", "request"]) == 0
    assert main(["customers", "erase", "1", "--db", db, "--reason", "again"]) == 1
    assert "already erased" in capsys.readouterr().err
    assert main(["customers", "export", "42", "--db", db]) == 1


def test_link_refuses_to_train_on_an_empty_base(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    assert main(["link", "--db", db, "--create-tables"]) == 1
    assert "too few to train" in capsys.readouterr().err


def test_link_trains_links_and_dedupes(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    base, _pairs = synthetic.base_with_duplicates(150, dup_rate=0.25, seed=2)
    write_crm(tmp_path / "crm.csv", base)
    assert (
        main(["customers", "import", str(tmp_path / "crm.csv"), "--db", db, "--create-tables"]) == 0
    )
    capsys.readouterr()
    assert main(["link", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "identities:" in out
    queued = int(out.split("dedupe: ")[1].split()[0])
    assert queued >= 10  # the planted duplicates come out as review pairs
