"""A realistic directory of Panamanian public entities for seeding (codes are ours)."""

from __future__ import annotations

# (code, name, short name, kind, province, district, [(service code, service name, SLA days)])
ENTITIES: list[tuple[str, str, str, str, str | None, str | None, list[tuple[str, str, int]]]] = [
    (
        "IDAAN",
        "Instituto de Acueductos y Alcantarillados Nacionales",
        "IDAAN",
        "autonoma",
        None,
        None,
        [
            ("falta-agua", "Falta de agua potable", 3),
            ("fuga", "Fuga o tubería rota", 5),
            ("alcantarillado", "Alcantarillado colapsado", 10),
            ("facturacion", "Reclamo de facturación de agua", 30),
        ],
    ),
    (
        "MINSA",
        "Ministerio de Salud",
        "MINSA",
        "ministerio",
        None,
        None,
        [
            ("criaderos", "Criaderos de mosquitos y control de vectores", 10),
            ("atencion", "Atención en centros de salud", 15),
            ("medicamentos", "Desabastecimiento de medicamentos", 15),
            ("sanidad", "Denuncia sanitaria de establecimientos", 20),
        ],
    ),
    (
        "CSS",
        "Caja de Seguro Social",
        "CSS",
        "autonoma",
        None,
        None,
        [
            ("citas", "Citas médicas", 10),
            ("medicamentos", "Entrega de medicamentos", 10),
            ("pensiones", "Trámite de pensiones y jubilaciones", 30),
            ("atencion", "Atención en policlínicas y hospitales", 15),
        ],
    ),
    (
        "MEDUCA",
        "Ministerio de Educación",
        "MEDUCA",
        "ministerio",
        None,
        None,
        [
            ("infraestructura", "Infraestructura escolar", 30),
            ("docentes", "Falta de docentes", 20),
            ("becas", "Becas y auxilios", 30),
        ],
    ),
    (
        "ATTT",
        "Autoridad del Tránsito y Transporte Terrestre",
        "ATTT",
        "autonoma",
        None,
        None,
        [
            ("transporte", "Mal servicio de transporte público", 15),
            ("semaforos", "Semáforos dañados", 5),
            ("licencias", "Licencias y placas", 20),
        ],
    ),
    (
        "MOP",
        "Ministerio de Obras Públicas",
        "MOP",
        "ministerio",
        None,
        None,
        [
            ("huecos", "Huecos en calles y carreteras", 15),
            ("puentes", "Puentes y zarzos dañados", 20),
            ("drenajes", "Limpieza de cunetas y drenajes", 15),
        ],
    ),
    (
        "MIVIOT",
        "Ministerio de Vivienda y Ordenamiento Territorial",
        "MIVIOT",
        "ministerio",
        None,
        None,
        [
            ("vivienda", "Programas de vivienda", 30),
            ("permisos", "Uso de suelo y permisos", 30),
        ],
    ),
    (
        "ASEP",
        "Autoridad Nacional de los Servicios Públicos",
        "ASEP",
        "autonoma",
        None,
        None,
        [
            ("electricidad", "Reclamos del servicio eléctrico", 30),
            ("telecom", "Reclamos de telecomunicaciones", 30),
        ],
    ),
    (
        "MUPA",
        "Municipio de Panamá",
        "Municipio de Panamá",
        "municipio",
        "Panamá",
        "Panamá",
        [
            ("aseo", "Recolección de basura", 5),
            ("alumbrado", "Alumbrado público", 10),
            ("parques", "Parques y áreas verdes", 15),
            ("ruido", "Ruido y perturbación del orden", 10),
        ],
    ),
    (
        "MUSM",
        "Municipio de San Miguelito",
        "Municipio de San Miguelito",
        "municipio",
        "Panamá",
        "San Miguelito",
        [
            ("aseo", "Recolección de basura", 5),
            ("alumbrado", "Alumbrado público", 10),
        ],
    ),
    (
        "MUCOLON",
        "Municipio de Colón",
        "Municipio de Colón",
        "municipio",
        "Colón",
        "Colón",
        [
            ("aseo", "Recolección de basura", 5),
            ("calles", "Calles municipales", 20),
        ],
    ),
    (
        "MUDAVID",
        "Municipio de David",
        "Municipio de David",
        "municipio",
        "Chiriquí",
        "David",
        [
            ("aseo", "Recolección de basura", 5),
            ("mercado", "Mercado municipal", 15),
        ],
    ),
    (
        "MUARRAIJAN",
        "Municipio de Arraiján",
        "Municipio de Arraiján",
        "municipio",
        "Panamá Oeste",
        "Arraiján",
        [
            ("aseo", "Recolección de basura", 5),
            ("alumbrado", "Alumbrado público", 10),
        ],
    ),
    (
        "MULACHORRERA",
        "Municipio de La Chorrera",
        "Municipio de La Chorrera",
        "municipio",
        "Panamá Oeste",
        "La Chorrera",
        [
            ("aseo", "Recolección de basura", 5),
        ],
    ),
    (
        "MUSANTIAGO",
        "Municipio de Santiago",
        "Municipio de Santiago",
        "municipio",
        "Veraguas",
        "Santiago",
        [
            ("aseo", "Recolección de basura", 5),
        ],
    ),
    (
        "MUCHITRE",
        "Municipio de Chitré",
        "Municipio de Chitré",
        "municipio",
        "Herrera",
        "Chitré",
        [
            ("aseo", "Recolección de basura", 5),
        ],
    ),
    (
        "MIDA",
        "Ministerio de Desarrollo Agropecuario",
        "MIDA",
        "ministerio",
        None,
        None,
        [
            ("asistencia", "Asistencia técnica agropecuaria", 20),
            ("plagas", "Plagas y sanidad agropecuaria", 10),
        ],
    ),
    (
        "MIDES",
        "Ministerio de Desarrollo Social",
        "MIDES",
        "ministerio",
        None,
        None,
        [
            ("programas", "Programas de transferencias", 30),
            ("adulto-mayor", "Protección del adulto mayor", 10),
        ],
    ),
    (
        "MITRADEL",
        "Ministerio de Trabajo y Desarrollo Laboral",
        "MITRADEL",
        "ministerio",
        None,
        None,
        [
            ("derechos", "Derechos laborales", 20),
            ("empleo", "Bolsa de empleo", 30),
        ],
    ),
    (
        "MINGOB",
        "Ministerio de Gobierno",
        "MINGOB",
        "ministerio",
        None,
        None,
        [
            ("penitenciario", "Sistema penitenciario", 30),
        ],
    ),
    (
        "MINSEG",
        "Ministerio de Seguridad Pública",
        "MINSEG",
        "ministerio",
        None,
        None,
        [
            ("seguridad", "Seguridad ciudadana", 10),
        ],
    ),
    (
        "MEF",
        "Ministerio de Economía y Finanzas",
        "MEF",
        "ministerio",
        None,
        None,
        [
            ("tramites", "Trámites y pagos", 30),
        ],
    ),
    (
        "MICI",
        "Ministerio de Comercio e Industrias",
        "MICI",
        "ministerio",
        None,
        None,
        [
            ("avisos", "Avisos de operación", 20),
        ],
    ),
    (
        "MIAMBIENTE",
        "Ministerio de Ambiente",
        "MiAmbiente",
        "ministerio",
        None,
        None,
        [
            ("tala", "Tala ilegal", 10),
            ("contaminacion", "Contaminación ambiental", 15),
        ],
    ),
    (
        "MINCULTURA",
        "Ministerio de Cultura",
        "MiCultura",
        "ministerio",
        None,
        None,
        [
            ("patrimonio", "Patrimonio histórico", 30),
        ],
    ),
    (
        "ACODECO",
        "Autoridad de Protección al Consumidor y Defensa de la Competencia",
        "ACODECO",
        "autonoma",
        None,
        None,
        [
            ("consumidor", "Quejas de consumidores", 30),
            ("precios", "Precios de productos controlados", 10),
        ],
    ),
    (
        "AAUD",
        "Autoridad de Aseo Urbano y Domiciliario",
        "AAUD",
        "autonoma",
        None,
        None,
        [
            ("recoleccion", "Recolección de desechos", 5),
            ("vertederos", "Vertederos improvisados", 10),
        ],
    ),
    (
        "MIRE",
        "Ministerio de Relaciones Exteriores",
        "MIRE",
        "ministerio",
        None,
        None,
        [
            ("consular", "Servicios consulares", 30),
        ],
    ),
    (
        "TE",
        "Tribunal Electoral",
        "Tribunal Electoral",
        "autonoma",
        None,
        None,
        [
            ("cedula", "Cédula de identidad", 20),
            ("registro-civil", "Registro civil", 30),
        ],
    ),
    (
        "SENNIAF",
        "Secretaría Nacional de Niñez, Adolescencia y Familia",
        "SENNIAF",
        "autonoma",
        None,
        None,
        [
            ("proteccion", "Protección de menores", 5),
        ],
    ),
    (
        "AIG",
        "Autoridad Nacional para la Innovación Gubernamental",
        "AIG",
        "autonoma",
        None,
        None,
        [
            ("tramites-linea", "Trámites en línea", 15),
            ("internet", "Internet para Todos", 20),
        ],
    ),
    (
        "ANATI",
        "Autoridad Nacional de Administración de Tierras",
        "ANATI",
        "autonoma",
        None,
        None,
        [
            ("titulacion", "Titulación de tierras", 30),
        ],
    ),
    (
        "ETESA",
        "Empresa de Transmisión Eléctrica",
        "ETESA",
        "autonoma",
        None,
        None,
        [
            ("lineas", "Líneas de transmisión", 20),
        ],
    ),
    (
        "METRO",
        "Metro de Panamá",
        "Metro de Panamá",
        "autonoma",
        "Panamá",
        None,
        [
            ("servicio", "Servicio del metro", 10),
        ],
    ),
    (
        "MIBUS",
        "Transporte Masivo de Panamá (MiBus)",
        "MiBus",
        "autonoma",
        "Panamá",
        None,
        [
            ("rutas", "Rutas y frecuencias", 10),
            ("tarjeta", "Tarjeta de pago", 15),
        ],
    ),
]

# (entity code, service code or None, slug, title, body)
ARTICLES: list[tuple[str, str | None, str, str, str]] = [
    (
        "IDAAN",
        "facturacion",
        "reclamo-factura",
        "Cómo reclamar una factura de agua",
        "El ciudadano puede reclamar en cualquier agencia del IDAAN o por el 3-1-1 con su número "
        "de NIS. El IDAAN revisa la lectura del medidor y responde en un plazo máximo de 30 días.",
    ),
    (
        "IDAAN",
        "falta-agua",
        "carros-cisterna",
        "Suministro con carros cisterna",
        "Cuando falta el agua más de 24 horas en un sector, el IDAAN programa carros cisterna. "
        "Registre la dirección exacta y un punto de referencia.",
    ),
    (
        "CSS",
        "citas",
        "cita-por-telefono",
        "Citas médicas por teléfono",
        "Las citas de medicina general se solicitan en el call center de la CSS o en la policlínica "
        "correspondiente presentando la cédula y el carné de asegurado.",
    ),
    (
        "CSS",
        "pensiones",
        "requisitos-jubilacion",
        "Requisitos de jubilación",
        "Edad de 57 años (mujeres) o 62 años (hombres) y 240 cuotas. El trámite se inicia en la "
        "Dirección de Prestaciones Económicas con cédula y ficha de seguro social.",
    ),
    (
        "MINSA",
        "criaderos",
        "prevencion-dengue",
        "Prevención del dengue",
        "Eliminar recipientes con agua estancada, tapar tanques y permitir la visita de los "
        "inspectores de vectores. Las denuncias de criaderos se atienden en 10 días.",
    ),
    (
        "ATTT",
        "licencias",
        "renovar-licencia",
        "Renovación de licencia de conducir",
        "Se renueva en las sedes de la ATTT con cédula, certificado médico y el pago correspondiente.",
    ),
    (
        "MUPA",
        "aseo",
        "horarios-recoleccion",
        "Horarios de recolección",
        "La recolección domiciliaria se realiza según la ruta del corregimiento. Indique "
        "corregimiento, barrio y calle para programar la recolección pendiente.",
    ),
    (
        "TE",
        "cedula",
        "duplicado-cedula",
        "Duplicado de cédula",
        "El duplicado se solicita en cualquier oficina del Tribunal Electoral pagando el timbre; "
        "la entrega toma de 3 a 5 días hábiles.",
    ),
    (
        "ACODECO",
        "consumidor",
        "como-presentar-queja",
        "Cómo presentar una queja de consumo",
        "Presente la factura, la garantía y la identificación del comercio. ACODECO cita a "
        "conciliación a las partes.",
    ),
]

# (entity code, slug, text, prompt file or None, valid hours from seeding or None for open-ended)
ANNOUNCEMENTS: list[tuple[str, str, str, int | None]] = [
    (
        "IDAAN",
        "mantenimiento-chilibre",
        "El IDAAN informa que por mantenimiento en la potabilizadora de Chilibre puede haber baja "
        "presión de agua en la ciudad de Panamá y San Miguelito hasta mañana.",
        48,
    ),
]

# (username, full name, role, entity code or None, phone interface or None)
DEMO_USERS: list[tuple[str, str, str, str | None, str | None]] = [
    ("agente1", "Ana Batista", "agent", None, "PJSIP/1001"),
    ("agente2", "Luis Herrera", "agent", None, "PJSIP/1002"),
    ("agente3", "María Castillo", "agent", None, "PJSIP/1003"),
    ("supervisor", "Carlos Pinzón", "supervisor", None, None),
    ("auditor", "Rosa Delgado", "auditor", None, None),
    ("enlace.idaan", "Jorge Samudio", "liaison", "IDAAN", None),
    ("enlace.mupa", "Itzel Quintero", "liaison", "MUPA", None),
    ("admin", "Administración 3-1-1", "admin", None, None),
]

DEMO_PASSWORD = "cac311-demo"
