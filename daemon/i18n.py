"""The words of the lab's documents in English and Indonesian (the lab's language)."""
from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "draft": "DRAFT — NOT VALID UNTIL CHECKED AND SIGNED",
        "certificate": "Calibration certificate (draft)",
        "check_report": "Intermediate check report",
        "customer": "Customer / work order", "uut": "Unit under test", "serial": "serial",
        "method": "Method", "procedure": "procedure", "version": "version",
        "date": "Date of calibration", "check_date": "Date of check", "operator": "Operator",
        "environment": "Environmental conditions", "not_recorded": "not recorded",
        "temperature": "temperature", "humidity": "relative humidity",
        "simulated": "Simulated instruments: this run used the labd hardware simulators.",
        "note": "Note", "standards": "Standards used (traceability)", "standard": "Standard",
        "certificate_no": "Certificate", "calibrated": "Calibrated", "due": "Due",
        "results": "Results", "coverage_probability": "coverage probability",
        "uncertainty_statement": (
            "The reported expanded uncertainty of measurement is stated as the standard uncertainty of measurement "
            "multiplied by the coverage factor k, which for a t-distribution with ν_eff effective degrees of freedom "
            "corresponds to a coverage probability of approximately {coverage} %. The standard uncertainty has been "
            "determined in accordance with JCGM 100:2008 (GUM)."),
        "checked_by": "Checked by", "approved_by": "Approved by", "technical_supervisor": "Technical supervisor",
        "technical_manager": "Technical manager", "run": "Run", "page": "Page",
        "data": "Data", "control_chart": "Control chart", "drift": "Drift", "verdict": "Verdict",
        "next_calibration": "Recommended next calibration", "next_check": "Next check due",
        "within_tolerance": "within tolerance", "out_of_tolerance": "OUT OF TOLERANCE",
        "in_control": "in control", "violations": "run-rule violations", "none": "none",
        "method.thermometer-calibration": "Comparison with a reference thermometer in a heat source",
        "method.balance-calibration": "Repeatability, eccentricity and errors of indication with reference weights "
                                      "(after EURAMET cg-18)",
        "method.dmm-calibration": "Direct measurement of the output of a multifunction calibrator",
        "correction_note": "The correction is to be added to the indication of the unit under test.",
        "error_note": "The error is the indication of the unit under test minus the reference value.",
        "nominal": "Nominal", "reference": "Reference", "reading": "Reading of the unit under test",
        "correction": "Correction", "error": "Error", "indication": "Indication", "load": "Load",
        "deviation": "Deviation", "repeatability": "Repeatability", "eccentricity": "Eccentricity (largest deviation)",
        "mean": "mean", "sd": "standard deviation", "days": "days", "since": "since",
    },
    "id": {
        "draft": "KONSEP — TIDAK BERLAKU SEBELUM DIPERIKSA DAN DITANDATANGANI",
        "certificate": "Sertifikat kalibrasi (konsep)",
        "check_report": "Laporan cek antara",
        "customer": "Pelanggan / nomor order", "uut": "Alat yang dikalibrasi", "serial": "nomor seri",
        "method": "Metode", "procedure": "prosedur", "version": "versi",
        "date": "Tanggal kalibrasi", "check_date": "Tanggal cek", "operator": "Pelaksana",
        "environment": "Kondisi lingkungan", "not_recorded": "tidak tercatat",
        "temperature": "suhu", "humidity": "kelembapan relatif",
        "simulated": "Instrumen simulasi: pengukuran ini memakai simulator perangkat labd.",
        "note": "Catatan", "standards": "Standar yang digunakan (ketertelusuran)", "standard": "Standar",
        "certificate_no": "Sertifikat", "calibrated": "Dikalibrasi", "due": "Jatuh tempo",
        "results": "Hasil", "coverage_probability": "tingkat kepercayaan",
        "uncertainty_statement": (
            "Ketidakpastian bentangan yang dilaporkan adalah ketidakpastian baku dikalikan faktor cakupan k, yang "
            "untuk distribusi t dengan derajat kebebasan efektif ν_eff memberikan tingkat kepercayaan sekitar "
            "{coverage} %. Ketidakpastian baku dievaluasi sesuai JCGM 100:2008 (GUM)."),
        "checked_by": "Diperiksa oleh", "approved_by": "Disetujui oleh", "technical_supervisor": "Penyelia teknis",
        "technical_manager": "Manajer teknis", "run": "Pengukuran", "page": "Halaman",
        "data": "Data", "control_chart": "Bagan kendali", "drift": "Pergeseran (drift)", "verdict": "Kesimpulan",
        "next_calibration": "Rekomendasi kalibrasi berikutnya", "next_check": "Cek berikutnya",
        "within_tolerance": "dalam toleransi", "out_of_tolerance": "DI LUAR TOLERANSI",
        "in_control": "terkendali", "violations": "pelanggaran aturan", "none": "tidak ada",
        "method.thermometer-calibration": "Perbandingan dengan termometer acuan dalam sumber panas",
        "method.balance-calibration": "Keterulangan, eksentrisitas dan kesalahan penunjukan dengan anak timbangan "
                                      "acuan (mengacu EURAMET cg-18)",
        "method.dmm-calibration": "Pengukuran langsung keluaran kalibrator multifungsi",
        "correction_note": "Koreksi ditambahkan pada penunjukan alat yang dikalibrasi.",
        "error_note": "Kesalahan adalah penunjukan alat dikurangi nilai acuan.",
        "nominal": "Nominal", "reference": "Acuan", "reading": "Penunjukan alat",
        "correction": "Koreksi", "error": "Kesalahan", "indication": "Penunjukan", "load": "Beban",
        "deviation": "Penyimpangan", "repeatability": "Keterulangan", "eccentricity": "Eksentrisitas (penyimpangan terbesar)",
        "mean": "rata-rata", "sd": "simpangan baku", "days": "hari", "since": "sejak",
    },
}

LANGUAGES = tuple(TEXT)


def words(lang: str) -> dict[str, str]:
    if lang not in TEXT:
        raise ValueError(f"language {lang!r}: one of {', '.join(TEXT)}")
    return TEXT[lang]
