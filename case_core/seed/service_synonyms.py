"""Words citizens use for a service, by (entity code, service code): what the agent types.

Seeded into ``services.synonyms`` (comma-separated) and kept there by the directory; the
service search matches them as it matches the service's own name.
"""

from __future__ import annotations

_MUNICIPAL_WASTE = "basura, aseo, desechos, recolección, camión de la basura"
_MUNICIPAL_LIGHTS = "luminaria, poste de luz, lámpara, alumbrado, luz de la calle"

SYNONYMS: dict[tuple[str, str], str] = {
    ("IDAAN", "falta-agua"): "agua, sin agua, no llega el agua, suministro, cisterna",
    ("IDAAN", "fuga"): "tubo roto, tubería, fuga de agua, salidero, tubo",
    ("IDAAN", "alcantarillado"): "aguas negras, cloaca, desagüe, tapa de alcantarilla",
    ("IDAAN", "facturacion"): "recibo de agua, cobro, factura, medidor",
    ("MINSA", "criaderos"): "mosquitos, dengue, fumigación, zancudos, vectores",
    ("MINSA", "sanidad"): "restaurante sucio, salubridad, higiene",
    ("CSS", "citas"): "cita médica, seguro social, consulta médica",
    ("CSS", "medicamentos"): "farmacia, receta, pastillas, medicinas",
    ("CSS", "pensiones"): "jubilación, pensión, retiro",
    ("ATTT", "semaforos"): "semáforo, luz roja, señal de tránsito, tránsito",
    ("ATTT", "transporte"): "bus, taxi, diablo rojo, chofer, pasaje",
    ("ATTT", "licencias"): "licencia de conducir, placa, pase, revisado vehicular",
    ("MOP", "huecos"): "hueco, bache, calle dañada, carretera, asfalto",
    ("MOP", "drenajes"): "cuneta, inundación, alcantarilla, drenaje",
    ("ASEP", "electricidad"): "luz, apagón, corte de luz, recibo de luz, energía",
    ("ASEP", "telecom"): "teléfono, internet, celular, cable",
    ("AAUD", "recoleccion"): "basura, recolección de basura, aseo, desechos, camión de la basura",
    ("AAUD", "vertederos"): "basurero, botadero, basura en la calle, vertedero",
    ("MIRE", "consular"): "pasaporte, consulado, apostilla, visa, embajada",
    ("TE", "cedula"): "cédula, documento de identidad, duplicado de cédula, carné",
    ("TE", "registro-civil"): "partida de nacimiento, certificado, matrimonio, defunción",
    ("MIAMBIENTE", "tala"): "árboles, corte de árboles, deforestación",
    ("MIAMBIENTE", "contaminacion"): "humo, olores, río contaminado, quema",
    ("MITRADEL", "derechos"): "despido, salario, prestaciones, trabajo",
    ("MINSEG", "seguridad"): "policía, delincuencia, robo, inseguridad",
    ("ACODECO", "consumidor"): "tienda, garantía, estafa, comercio",
    ("SENNIAF", "proteccion"): "niño, maltrato infantil, menores, abuso",
    ("MIDES", "adulto-mayor"): "abuelo, anciano, tercera edad",
    ("MIBUS", "tarjeta"): "tarjeta del metrobús, recarga, saldo",
    ("MIBUS", "rutas"): "metrobús, parada, frecuencia del bus",
    ("METRO", "servicio"): "metro, estación, línea 1, línea 2",
}
for _code in (
    "MUPA",
    "MUSM",
    "MUCOLON",
    "MUDAVID",
    "MUARRAIJAN",
    "MULACHORRERA",
    "MUSANTIAGO",
    "MUCHITRE",
):
    SYNONYMS[(_code, "aseo")] = _MUNICIPAL_WASTE
    SYNONYMS[(_code, "alumbrado")] = _MUNICIPAL_LIGHTS
