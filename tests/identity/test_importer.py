import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from somebound.identity.importer import ImportFileError, read_customer_file

CSV = '''customer_number,given_name,surname,email,phone,city,birth_date,loyalty_tier
C1,Matti,Virtanen,Matti.Virtanen@Example.fi,040 123 4567,Helsinki,1980-02-03,gold
C2,Anna,Korhonen,not-an-email,,Oulu,,silver
,No,Number,x@y.fi,,,,
C3,Åsa,Sjöberg,,12,Turku,,
C4,"Karl ""Kalle""",Nyström,kalle@x.se,,"Vaasa,
Finland",1975-13-01,
C5,Ulla,Lind,ulla@x.se,,Lund,19790505,
C1,Matti,Again,,,,,
C6,Too,Many,,,,,,extra
'''


def test_csv_bad_rows_reported_with_line_and_reason_good_rows_kept(tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text(CSV, encoding="utf-8")
    batch = read_customer_file(path)
    good = {row["customer_number"]: (line, row) for line, row in batch.rows}
    assert sorted(good) == ["C1", "C5"]
    assert good["C1"][0] == 2
    assert good["C1"][1]["email"] == "matti.virtanen@example.fi"
    assert good["C1"][1]["phone"] == "+358401234567"
    assert good["C5"][1]["birth_date"] == "1979-05-05"
    bad = {b.line: b.reason for b in batch.bad}
    assert "not an e-mail address" in bad[3]
    assert "customer_number is empty" in bad[4]
    assert "too few digits" in bad[5]
    # a quoted field spanning two physical lines: the row starts on line 6
    assert "birth_date '1975-13-01' is not a date" in bad[6]
    assert "repeats line 2" in bad[9]
    assert "has 9 fields, the header has 8" in bad[10]
    assert batch.ignored_columns == ["loyalty_tier"]


def test_parquet_rows_are_numbered(tmp_path):
    path = tmp_path / "crm.parquet"
    pq.write_table(pa.table({"customer_number": ["A", "B"], "email": ["a@b.fi", "nope"]}), path)
    batch = read_customer_file(path)
    assert [r["customer_number"] for _, r in batch.rows] == ["A"]
    assert [(b.line, b.customer_number) for b in batch.bad] == [(2, "B")]


def test_file_level_errors(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("name,email\nMatti,m@x.fi\n")
    with pytest.raises(ImportFileError, match="no 'customer_number' column"):
        read_customer_file(p)
    with pytest.raises(ImportFileError, match="unknown format '.xlsx'"):
        (tmp_path / "x.xlsx").write_text("")
        read_customer_file(tmp_path / "x.xlsx")
