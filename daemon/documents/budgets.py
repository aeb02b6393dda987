"""The uncertainty budget of each result as an annex of the certificate (ISO/IEC 17025 7.8.4.1 c, 7.6; the
issue's "every component with its source, distribution, sensitivity and ν"), in the document's language.

calc and the procedures name components and their sources in English (their results are language-free JSON);
the Indonesian annex translates the names and the fixed phrases, and keeps report and certificate numbers.
"""
from __future__ import annotations

import re
from typing import Any

_NAMES_ID = {
    "reference certificate": "sertifikat acuan", "certificate interpolation": "interpolasi sertifikat",
    "reference drift": "drift acuan", "reference readout": "penunjuk acuan",
    "reference repeatability": "keterulangan acuan", "reference resolution": "resolusi acuan",
    "axial uniformity": "keseragaman aksial", "radial uniformity": "keseragaman radial",
    "source stability": "kestabilan sumber", "source loading": "pembebanan sumber", "immersion": "pencelupan",
    "hysteresis": "histeresis", "UUT repeatability": "keterulangan alat", "UUT resolution": "resolusi alat",
    "resolution at zero": "resolusi pada nol", "resolution at load": "resolusi pada beban",
    "repeatability": "keterulangan", "eccentricity": "eksentrisitas", "reference mass": "massa acuan",
    "weight drift": "drift anak timbangan", "air buoyancy": "gaya apung udara",
    "calibrator certificate": "sertifikat kalibrator", "calibrator stability": "kestabilan kalibrator",
    "UUT readout resistance": "penunjuk resistansi alat", "resolution": "resolusi", "zero": "nol", "convection": "konveksi",
    "calibrator specification": "spesifikasi kalibrator",
    "calibrator temperature coefficient": "koefisien suhu kalibrator", "thermal EMF": "GGL termal",
    "calibrator noise": "derau kalibrator",
}
_DISTRIBUTIONS_ID = {"normal": "normal", "rectangular": "segi empat", "triangular": "segitiga", "arcsine": "arcsinus",
                     "t": "t"}
_SOURCES_ID = [
    (r"^calibration certificate of the reference \(U/k\)$", "sertifikat kalibrasi acuan (U/k)"),
    (r"^linear against quadratic interpolation between the certificate's points$",
     "interpolasi linear terhadap kuadratik di antara titik sertifikat"),
    (r"^drift since calibration \(register\)$", "drift sejak kalibrasi (daftar standar)"),
    (r"^the certificate covers probe and readout$", "sertifikat mencakup probe dan penunjuknya"),
    (r"^the readout's specification$", "spesifikasi penunjuk"),
    (r"^s/√n of the reference readings$", "s/√n pembacaan acuan"),
    (r"^resolution of the reference indication$", "resolusi penunjukan acuan"),
    (r"^characterisation (.+): axial$", r"karakterisasi \1: aksial"),
    (r"^characterisation (.+): radial$", r"karakterisasi \1: radial"),
    (r"^characterisation (.+): stability over the reading time$", r"karakterisasi \1: kestabilan selama pembacaan"),
    (r"^characterisation (.+): loading by the probes$", r"karakterisasi \1: pembebanan oleh probe"),
    (r"^the source's specification \(no characterisation in the register\)$",
     "spesifikasi sumber (tidak ada karakterisasi dalam daftar)"),
    (r"^in the repeatability \(no characterisation in the register\)$",
     "termasuk dalam keterulangan (tidak ada karakterisasi dalam daftar)"),
    (r"^not characterised$", "tidak dikarakterisasi"),
    (r"^immersion test: stem conduction$", "uji pencelupan: konduksi batang"),
    (r"^declared \(rising series only\)$", "dinyatakan (hanya seri naik)"),
    (r"^half the difference of the rising and falling series$", "setengah selisih seri naik dan turun"),
    (r"^s/√n of the unit under test's readings$", "s/√n pembacaan alat yang dikalibrasi"),
    (r"^resolution of the unit under test$", "resolusi alat yang dikalibrasi"),
    (r"^d/2, rectangular$", "d/2, segi empat"),
    (r"^s of (\d+) loadings, one reading$", r"s dari \1 kali pembebanan, satu pembacaan"),
    (r"^largest off-centre deviation, scaled to the load$", "penyimpangan terbesar di luar pusat, diskalakan ke beban"),
    (r"^certificates of the weights$", "sertifikat anak timbangan"),
    (r"^drift since calibration of the weights$", "drift anak timbangan sejak kalibrasi"),
    (r"^conventional mass, air density not measured$", "massa konvensional, densitas udara tidak diukur"),
    (r"^largest zero indication before a loading \(return to zero, creep\)$",
     "penunjukan nol terbesar sebelum pembebanan (kembali ke nol, rambatan)"),
    (r"^declared after acclimatisation of the weights \(cg-18 7.1.2.3\)$",
     "dinyatakan setelah aklimatisasi anak timbangan (cg-18 7.1.2.3)"),
    (r"^air density (\S+) kg/m³ \(CIPM-2007, (\S+) °C, (\S+) %RH, (\S+) hPa\), weights of class (\w+)$",
     r"densitas udara \1 kg/m³ (CIPM-2007, \2 °C, \3 %RH, \4 hPa), anak timbangan kelas \5"),
    (r"^air density within ±10 % of 1.2 kg/m³ \(not measured\), weights of class (\w+)$",
     r"densitas udara dalam ±10 % dari 1,2 kg/m³ (tidak diukur), anak timbangan kelas \1"),
    (r"^U/k of the calibrator's certificate$", "U/k sertifikat kalibrator"),
    (r"^stability since calibration$", "kestabilan sejak kalibrasi"),
    (r"^half the difference of the range's two bracketing certificate points$",
     "setengah selisih dua titik sertifikat pengapit pada rentang yang sama"),
    (r"^specification \((.+)\): no certificate point on this range(.*)$",
     r"spesifikasi (\1): tidak ada titik sertifikat pada rentang ini\2"),
    (r"^certificate (\S+) \(no specification in the register\)$", r"sertifikat \1 (tanpa spesifikasi dalam daftar)"),
    (r"^certificate (\S+)(.*)$", r"sertifikat \1\2"),
    (r"^stability since calibration, relative plus floor$", "kestabilan sejak kalibrasi, relatif ditambah batas bawah"),
    (r"^fraction of the specification per °C outside its temperature band$",
     "bagian dari spesifikasi per °C di luar rentang suhunya"),
    (r"^leads and terminals, declared$", "kabel dan terminal, dinyatakan"),
    (r"^in the repeatability: the multimeter integrates it$", "termasuk dalam keterulangan: multimeter mengintegrasikannya"),
    (r"^s/√n of the unit under test's resistance readings$", "s/√n pembacaan resistansi alat yang dikalibrasi"),
    (r"^the readout's specification in Ω$", "spesifikasi penunjuk dalam Ω"),
    (r"^resolution of the resistance reading$", "resolusi pembacaan resistansi"),
    (r"^s/√n$", "s/√n"), (r"^half a digit$", "setengah digit"),
]


def _source(text: str, lang: str) -> str:
    if lang != "id":
        return text
    for pattern, replacement in _SOURCES_ID:
        if re.match(pattern, text):
            return re.sub(pattern, replacement, text)
    return text


def annex(results: list[dict[str, Any]], first: str, point_unit: str, result_unit: str,
          lang: str) -> list[dict[str, Any]]:
    """One budget per result that carries one: its point (`first` names the key, e.g. "nominal") and rows. Each
    u and c says its unit: an input with a sensitivity of ±1 is in the result's unit; any other (a temperature
    carried into a resistance through dR/dt) is in the point's unit, its c in result/point."""
    out = []
    for r in results:
        if not r.get("budget"):
            continue
        rows = []
        for c in r["budget"]:
            name = _NAMES_ID.get(c["name"], c["name"]) if lang == "id" else c["name"]
            distribution = c.get("distribution", "normal")
            unity = abs(abs(c["sensitivity"]) - 1) < 1e-12
            u_unit = result_unit if unity else point_unit
            c_unit = "" if unity else f" {result_unit}/{point_unit}"
            rows.append([name, _source(c.get("source", ""), lang),
                         _DISTRIBUTIONS_ID.get(distribution, distribution) if lang == "id" else distribution,
                         f"{c['standard_uncertainty']:.2g} {u_unit}", f"{c['sensitivity']:.4g}{c_unit}",
                         f"{c['contribution']:.2g}", "∞" if c.get("dof") is None else f"{c['dof']:.0f}"])
        out.append({"point": f"{r[first]:g} {point_unit}", "rows": rows,
                    "total": f"{r['standard_uncertainty']:.2g}", "k": f"{r['k']:.2f}",
                    "dof": "∞" if r.get("dof") is None else f"{r['dof']:.0f}"})
    return out
