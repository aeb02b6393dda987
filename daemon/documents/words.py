"""The words of the lab's documents in English and Indonesian (the lab's language)."""
from __future__ import annotations

import re

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "draft": "DRAFT — NOT VALID UNTIL CHECKED AND SIGNED",
        "amendments": "Amendments", "amended_field": "Field", "amended_from": "Recorded", "amended_to": "Amended to",
        "amended_by": "By, when", "amended_why": "Reason",
        "amended_note": "This document shows the amended values; the values first recorded are kept in the record.",
        "certificate": "Calibration certificate", "draft_suffix": " (draft)", "certificate_number": "Certificate number",
        "replaces": "This certificate replaces certificate {number}, which is withdrawn.",
        "report_number": "Report number",
        "weighing": "Uncertainty of a weighing result W over the range (EURAMET cg-18 section 8): a reading R is "
                    "corrected by E(R) = a·R with a = {a}; then U(W) = 2·√({alpha} g² + {beta}·R²), k = 2 (at "
                    "R = {R} g: U(W) = {U} g); without the correction, U_gl(W) = U(W) + |a·R| ({Ugl} g at {R} g).",
        "resistance": "Resistance",
        "resistance_note": "The resistance of the unit under test at each reference temperature.",
        "cvd": "Callendar–Van Dusen coefficients fitted to these points (IEC 60751: R(t) = R0 (1 + A t + B t²), "
               "with + C (t − 100 °C) t³ below 0 °C): {values}; Birge ratio of the fit {residual}.",
        "callendar": "The same in Callendar's form, as some readouts take them: {values}.",
        "cvd_range": "The coefficients are valid over the calibrated range, {low} °C to {high} °C; outside it they "
                     "extrapolate, and this certificate does not cover the values they give. Within it, a "
                     "temperature calculated with them from a resistance has, from the coefficients alone, an "
                     "expanded uncertainty of at most {U} °C (k = 2), to be combined with that of the resistance "
                     "measurement.",
        "annex_budget": "Annex: uncertainty budgets", "component": "Component", "source": "Source",
        "distribution": "Distribution",
        "combined": "Combined standard uncertainty u = {u} {unit}; effective degrees of freedom ν = {dof}; k = {k}.",
        "decision_rule": "Decision rule",
        "rule.simple": "Simple acceptance (ILAC-G8:09/2019 4.2.1): the balance passes when the deviation lies within "
                       "the tolerance ±{tolerance}; U of the deviation {U} (k = 2) is stated, the risk of a false "
                       "acceptance is shared.",
        "rule.guarded": "Guarded acceptance (ILAC-G8:09/2019 4.2.2), guard band w = U = {U} (k = 2): the balance "
                        "passes when the deviation lies within ±{limit}, the tolerance less U.",
        "rule.working-standard": "The working standard passes when every day's difference from the check standard "
                                 "lies within ±{criterion} and the mean agrees with the reference (|E_n| ≤ 1, "
                                 "k = t(ν_eff) at 95.45 %).",
        "replaces_report": "This report replaces report {number}, which is withdrawn.",
        "signed_at": "signed electronically", "not_signed": "not signed",
        "customer_name": "Customer", "work_order": "Work order", "manufacturer": "Manufacturer", "model": "Model",
        "condition": "Condition on receipt", "received": "Date of receipt", "issued_on": "Date of issue",
        "not_issued": "not issued (draft)", "not_stated": "not stated", "place": "Place of calibration",
        "place_lab": "the laboratory's premises",
        "traceability_title": "Metrological traceability",
        "traceability": "The results are metrologically traceable to the International System of Units (SI) "
                        "through the reference standards below, each calibrated by a laboratory that demonstrates "
                        "its own traceability.",
        "traceable_one": "{description} (serial {serial}): certificate {certificate} issued by {issuer}, valid "
                         "until {due}.",
        "issuer_unknown": "the issuing laboratory named in the register",
        "equipment": "Equipment used", "instrument": "Instrument", "identification": "Identification",
        "relate_only": "The results relate only to the item calibrated, at the time and under the conditions of "
                       "the calibration.",
        "reproduction": "This certificate shall not be reproduced except in full, without the written approval "
                        "of the laboratory.",
        "end_of_certificate": "— End of certificate —",
        "check_report": "Intermediate check report", "check_item": "Item checked",
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
        "technical_manager": "Technical manager", "run": "Run", "page": "Page", "of": "of",
        "data": "Data", "control_chart": "Control chart", "drift": "Drift", "verdict": "Verdict",
        "next_calibration": "Recommended next calibration", "next_check": "Next check due",
        "within_tolerance": "within tolerance", "out_of_tolerance": "OUT OF TOLERANCE",
        "in_control": "in control", "violations": "run-rule violations", "none": "none",
        "item.thermometer-calibration": "Platinum resistance thermometer with readout",
        "item.balance-calibration": "Non-automatic weighing instrument (balance)",
        "item.dmm-calibration": "Digital multimeter",
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
        "standardisation_report": "Solution standardisation report", "solution": "Solution",
        "primary_standard": "Primary standard", "purity": "purity", "molar_mass": "molar mass",
        "balance": "Balance", "replicate": "Replicate", "mass": "Mass", "titrant_volume": "Titrant volume",
        "concentration": "Concentration", "normality": "Normality", "budget": "Uncertainty budget",
        "input": "Input", "unit": "Unit", "per_unit": "mol/L per unit", "value": "Value", "sensitivity": "Sensitivity coefficient",
        "contribution": "Contribution", "share": "Share", "standardisation_date": "Date of standardisation",
        "method.solution-standardisation": "Titration of a weighed primary standard with the solution "
                                           "(model after EURACHEM/CITAC QUAM A2)",
        "stability_report": "Stability run report", "thermometer": "Thermometer", "channel": "channel",
        "heat_source": "Heat source, set point", "period": "Period", "interval": "interval",
        "warm_up": "Still settling, left out of the statistics", "warm_up_value": "the first {n} readings ({hours} h)",
        "autocorrelation": "allowing for the autocorrelation",
        "warm_up": "Still settling, left out of the statistics", "warm_up_value": "the first {n} readings ({hours} h)",
        "autocorrelation": "allowing for the autocorrelation",
        "readings_used": "readings used", "excluded": "excluded", "statistics": "Statistics",
        "peak_to_peak": "max − min", "drift_per_hour": "Drift per hour", "significant": "significant",
        "not_significant": "not significant", "readings": "Readings", "hours": "hours",
        "corrected_mean": "Mean corrected with the certificate of the standard",
        "set_point_deviation": "Deviation of the source from its set point", "u_correction": "u of the correction",
        "none_at_set_point": "no heat source held",
        "input.m_net": "net mass of the primary standard", "input.d_m": "mass, other effects",
        "input.d_gross": "balance linearity, gross weighing", "input.d_tare": "balance linearity, tare weighing",
        "input.P": "purity of the primary standard", "input.V_T": "titrant volume",
        "input.d_cal": "burette calibration", "input.d_temp": "volume, temperature effect",
        "input.R": "repeatability (relative)", "input.A": "atomic weight of",
    },
    "id": {
        "draft": "KONSEP — TIDAK BERLAKU SEBELUM DIPERIKSA DAN DITANDATANGANI",
        "amendments": "Perubahan", "amended_field": "Isian", "amended_from": "Tercatat", "amended_to": "Diubah menjadi",
        "amended_by": "Oleh, waktu", "amended_why": "Alasan",
        "amended_note": "Dokumen ini memuat nilai yang telah diubah; nilai yang pertama dicatat tetap tersimpan dalam rekaman.",
        "certificate": "Sertifikat Kalibrasi", "draft_suffix": " (konsep)", "certificate_number": "Nomor sertifikat",
        "replaces": "Sertifikat ini menggantikan sertifikat {number}, yang dinyatakan ditarik.",
        "report_number": "Nomor laporan",
        "weighing": "Ketidakpastian hasil penimbangan W pada seluruh rentang (EURAMET cg-18 bagian 8): pembacaan R "
                    "dikoreksi dengan E(R) = a·R, a = {a}; maka U(W) = 2·√({alpha} g² + {beta}·R²), k = 2 (pada "
                    "R = {R} g: U(W) = {U} g); tanpa koreksi, U_gl(W) = U(W) + |a·R| ({Ugl} g pada {R} g).",
        "resistance": "Resistansi",
        "resistance_note": "Resistansi alat yang dikalibrasi pada setiap suhu acuan.",
        "cvd": "Koefisien Callendar–Van Dusen hasil pencocokan titik-titik ini (IEC 60751: R(t) = R0 (1 + A t + "
               "B t²), ditambah C (t − 100 °C) t³ di bawah 0 °C): {values}; rasio Birge pencocokan {residual}.",
        "callendar": "Koefisien yang sama dalam bentuk Callendar, sebagaimana dimasukkan ke beberapa penunjuk: {values}.",
        "cvd_range": "Koefisien berlaku pada rentang yang dikalibrasi, {low} °C sampai {high} °C; di luar rentang itu "
                     "koefisien berekstrapolasi, dan nilai yang dihasilkannya tidak dicakup sertifikat ini. Di dalam "
                     "rentang itu, suhu yang dihitung dengan koefisien ini dari suatu resistansi memiliki, dari "
                     "koefisien saja, ketidakpastian diperluas paling besar {U} °C (k = 2), untuk digabungkan "
                     "dengan ketidakpastian pengukuran resistansinya.",
        "annex_budget": "Lampiran: anggaran ketidakpastian", "component": "Komponen", "source": "Sumber",
        "distribution": "Distribusi",
        "combined": "Ketidakpastian baku gabungan u = {u} {unit}; derajat kebebasan efektif ν = {dof}; k = {k}.",
        "decision_rule": "Aturan keputusan",
        "rule.simple": "Penerimaan sederhana (ILAC-G8:09/2019 4.2.1): timbangan memenuhi bila penyimpangan berada "
                       "dalam toleransi ±{tolerance}; U penyimpangan {U} (k = 2) dinyatakan, risiko penerimaan "
                       "yang keliru ditanggung bersama.",
        "rule.guarded": "Penerimaan dengan pita pengaman (ILAC-G8:09/2019 4.2.2), w = U = {U} (k = 2): timbangan "
                        "memenuhi bila penyimpangan berada dalam ±{limit}, yaitu toleransi dikurangi U.",
        "rule.working-standard": "Standar kerja memenuhi bila selisih setiap hari terhadap standar cek berada dalam "
                                 "±{criterion} dan rata-ratanya sesuai dengan nilai acuan (|E_n| ≤ 1, k = t(ν_eff) "
                                 "pada 95,45 %).",
        "replaces_report": "Laporan ini menggantikan laporan {number}, yang dinyatakan ditarik.",
        "signed_at": "ditandatangani secara elektronik", "not_signed": "belum ditandatangani",
        "customer_name": "Pelanggan", "work_order": "Nomor order", "manufacturer": "Pabrikan", "model": "Tipe",
        "condition": "Kondisi saat diterima", "received": "Tanggal diterima", "issued_on": "Tanggal terbit",
        "not_issued": "belum terbit (konsep)", "not_stated": "tidak disebutkan", "place": "Tempat kalibrasi",
        "place_lab": "laboratorium",
        "traceability_title": "Ketertelusuran metrologi",
        "traceability": "Hasil kalibrasi tertelusur secara metrologi ke Sistem Satuan Internasional (SI) melalui "
                        "standar acuan di bawah ini, masing-masing dikalibrasi oleh laboratorium yang menunjukkan "
                        "ketertelusurannya sendiri.",
        "traceable_one": "{description} (nomor seri {serial}): sertifikat {certificate} diterbitkan oleh {issuer}, "
                         "berlaku sampai {due}.",
        "issuer_unknown": "laboratorium penerbit yang tercatat dalam daftar standar",
        "equipment": "Peralatan yang digunakan", "instrument": "Alat", "identification": "Identifikasi",
        "relate_only": "Hasil kalibrasi hanya berlaku untuk alat yang dikalibrasi, pada waktu dan kondisi saat "
                       "kalibrasi.",
        "reproduction": "Sertifikat ini tidak boleh digandakan sebagian tanpa persetujuan tertulis dari "
                        "laboratorium.",
        "end_of_certificate": "— Akhir sertifikat —",
        "check_report": "Laporan cek antara", "check_item": "Alat yang dicek",
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
        "technical_manager": "Manajer teknis", "run": "Pengukuran", "page": "Halaman", "of": "dari",
        "data": "Data", "control_chart": "Bagan kendali", "drift": "Pergeseran (drift)", "verdict": "Kesimpulan",
        "next_calibration": "Rekomendasi kalibrasi berikutnya", "next_check": "Cek berikutnya",
        "within_tolerance": "dalam toleransi", "out_of_tolerance": "DI LUAR TOLERANSI",
        "in_control": "terkendali", "violations": "pelanggaran aturan", "none": "tidak ada",
        "item.thermometer-calibration": "Termometer tahanan platina dengan penunjuk",
        "item.balance-calibration": "Timbangan bukan otomatis",
        "item.dmm-calibration": "Multimeter digital",
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
        "standardisation_report": "Laporan pembakuan larutan", "solution": "Larutan",
        "primary_standard": "Baku primer", "purity": "kemurnian", "molar_mass": "massa molar",
        "balance": "Timbangan", "replicate": "Ulangan", "mass": "Massa", "titrant_volume": "Volume titran",
        "concentration": "Konsentrasi", "normality": "Normalitas", "budget": "Anggaran ketidakpastian",
        "input": "Masukan", "unit": "Satuan", "per_unit": "mol/L per satuan", "value": "Nilai", "sensitivity": "Koefisien sensitivitas",
        "contribution": "Kontribusi", "share": "Porsi", "standardisation_date": "Tanggal pembakuan",
        "method.solution-standardisation": "Titrasi baku primer yang ditimbang dengan larutan "
                                           "(model mengacu EURACHEM/CITAC QUAM A2)",
        "stability_report": "Laporan uji stabilitas", "thermometer": "Termometer", "channel": "kanal",
        "heat_source": "Sumber panas, titik setel", "period": "Periode", "interval": "selang",
        "warm_up": "Masih menyesuaikan, tidak dihitung dalam statistik",
        "warm_up_value": "{n} pembacaan pertama ({hours} jam)",
        "autocorrelation": "dengan memperhitungkan autokorelasi",
        "warm_up": "Masih menyesuaikan, tidak dihitung dalam statistik",
        "warm_up_value": "{n} pembacaan pertama ({hours} jam)",
        "autocorrelation": "dengan memperhitungkan autokorelasi",
        "readings_used": "pembacaan dipakai", "excluded": "dikeluarkan", "statistics": "Statistik",
        "peak_to_peak": "maks − min", "drift_per_hour": "Pergeseran per jam", "significant": "signifikan",
        "not_significant": "tidak signifikan", "readings": "Pembacaan", "hours": "jam",
        "corrected_mean": "Rata-rata terkoreksi sertifikat standar",
        "set_point_deviation": "Penyimpangan sumber dari titik setel", "u_correction": "u koreksi",
        "none_at_set_point": "tanpa sumber panas",
        "input.m_net": "massa bersih baku primer", "input.d_m": "massa, pengaruh lain",
        "input.d_gross": "linearitas timbangan, penimbangan kotor", "input.d_tare": "linearitas timbangan, tara",
        "input.P": "kemurnian baku primer", "input.V_T": "volume titran",
        "input.d_cal": "kalibrasi buret", "input.d_temp": "volume, pengaruh suhu",
        "input.R": "keterulangan (relatif)", "input.A": "berat atom",
    },
}

LANGUAGES = tuple(TEXT)


def words(lang: str) -> dict[str, str]:
    if lang not in TEXT:
        raise ValueError(f"language {lang!r}: one of {', '.join(TEXT)}")
    return TEXT[lang]


MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
             "November", "Desember")
_TEXT_NODE = re.compile(r">([^<]+)<")
# A decimal number standing alone: not part of a version or firmware string (1.4+1.0), a dotted name, a path.
_DECIMAL = re.compile(r"(?<![\w.:/+])([-−]?\d+)\.(\d+)(?![\w.:/+])")
_VERSION = re.compile(r"(versi|version)\s+$")
_DATE = re.compile(r"(?<![\w-])(\d{4})-(\d{2})-(\d{2})(?![\w-])")


def _indonesian_text(text: str) -> str:
    def decimal(m: re.Match) -> str:
        return m[0] if _VERSION.search(text[:m.start()]) else f"{m[1]},{m[2]}"

    def day(m: re.Match) -> str:
        month = int(m[2])
        return f"{int(m[3])} {MONTHS_ID[month - 1]} {m[1]}" if 1 <= month <= 12 else m[0]
    return _DATE.sub(day, _DECIMAL.sub(decimal, text))


def localise(html: str, lang: str) -> str:
    """The rendered document in the conventions of its language: for Indonesian, decimal commas and dates as
    '1 Desember 2026' in the text (not in markup, styles or attributes); English stays as it is."""
    if lang != "id":
        return html
    head, sep, body = html.partition("<body")
    return head + sep + _TEXT_NODE.sub(lambda m: ">" + _indonesian_text(m[1]) + "<", body)


# calc's reasons and the working-standard check's verdicts, in the document's language (they are made in English
# in calc and the procedures, whose results are language-free JSON).
_PHRASES_ID = [
    (re.compile(r"^no significant drift: the maximum interval$"), "tidak ada drift yang signifikan: interval maksimum"),
    (re.compile(r"^the drift stays within tolerance up to the maximum interval$"),
     "drift tetap dalam toleransi sampai interval maksimum"),
    (re.compile(r"^staircase \(ILAC-G24 method 1\): within tolerance, the interval of (\d+) days lengthened to "
                r"(\d+) days$"),
     r"metode tangga (ILAC-G24 metode 1): dalam toleransi, interval \1 hari diperpanjang menjadi \2 hari"),
    (re.compile(r"^out of tolerance: adjust or recalibrate now$"),
     "di luar toleransi: setel atau kalibrasi ulang sekarang"),
    (re.compile(r"^the deviation with its uncertainty already reaches the tolerance: calibrate now$"),
     "penyimpangan beserta ketidakpastiannya sudah mencapai batas toleransi: kalibrasi sekarang"),
    (re.compile(r"^the drift already reaches the tolerance: calibrate now$"),
     "drift sudah mencapai batas toleransi: kalibrasi sekarang"),
    (re.compile(r"^drift (\S+)/day reaches the tolerance \(with k=(\S+) uncertainty\) after (\d+) days$"),
     r"drift \1/hari mencapai batas toleransi (dengan ketidakpastian k=\2) setelah \3 hari"),
    (re.compile(r"^day (\d+) of (\d+): no evaluation before two days$"),
     r"hari ke-\1 dari \2: belum dievaluasi sebelum dua hari"),
    (re.compile(r"^day (\d+) of (\d+): provisionally passes$"), r"hari ke-\1 dari \2: sementara memenuhi"),
    (re.compile(r"^day (\d+) of (\d+): provisionally fails$"), r"hari ke-\1 dari \2: sementara tidak memenuhi"),
    (re.compile(r"^(\d+) days: the working standard passes the stability criterion$"),
     r"\1 hari: standar kerja memenuhi kriteria kestabilan"),
    (re.compile(r"^(\d+) days: the working standard fails the stability criterion$"),
     r"\1 hari: standar kerja TIDAK memenuhi kriteria kestabilan"),
]


def translated(text: str, lang: str) -> str:
    """A sentence made in English by calc or a procedure, in the document's language (unchanged if unknown)."""
    if lang != "id":
        return text
    for pattern, replacement in _PHRASES_ID:
        if pattern.match(text):
            return pattern.sub(replacement, text)
    return text
