"""Static data of the demo company, Numéria Conseil: an ESN (IT services company) in Lyon.

Pure data, no Django: the generator in `levier.demo.company` draws from these lists with a
seeded `random.Random`, so the same seed always gives the same company.
"""

from __future__ import annotations

from typing import Final

COMPANY_NAME: Final = "Numéria Conseil"
PASSWORD: Final = "demo"

# (username, first name, last name, role value, is_staff)
USERS: Final[tuple[tuple[str, str, str, str, bool], ...]] = (
    ("commercial", "Julien", "Moreau", "commercial", False),
    ("commercial2", "Sophie", "Lambert", "commercial", False),
    ("adv", "Claire", "Fontaine", "adv", False),
    ("adv2", "Karim", "Benali", "adv", False),
    ("compta", "Isabelle", "Roux", "comptabilite", False),
    ("direction", "Philippe", "Garnier", "direction", False),
    ("admin", "Nadia", "Perrin", "administrateur", True),
    ("auditeur", "Thomas", "Lefèvre", "auditeur", False),
)

# code, label, unit, unit price HT, VAT rate, exemption mention, revenue account, mode
PRODUCTS: Final[tuple[tuple[str, str, str, str, str, str, str, str], ...]] = (
    (
        "REG-DEV-JR",
        "Régie – développeur junior",
        "day",
        "480",
        "20",
        "",
        "706110",
        "time_and_materials",
    ),
    (
        "REG-DEV",
        "Régie – développeur confirmé",
        "day",
        "620",
        "20",
        "",
        "706110",
        "time_and_materials",
    ),
    (
        "REG-DEV-SR",
        "Régie – développeur senior",
        "day",
        "750",
        "20",
        "",
        "706110",
        "time_and_materials",
    ),
    ("REG-CP", "Régie – chef de projet", "day", "850", "20", "", "706120", "time_and_materials"),
    (
        "REG-ARCHI",
        "Régie – architecte logiciel",
        "day",
        "950",
        "20",
        "",
        "706120",
        "time_and_materials",
    ),
    ("REG-DATA", "Régie – data engineer", "day", "780", "20", "", "706110", "time_and_materials"),
    (
        "REG-CYBER",
        "Régie – expert cybersécurité",
        "day",
        "1100",
        "20",
        "",
        "706120",
        "time_and_materials",
    ),
    (
        "REG-FONC",
        "Régie – consultant fonctionnel",
        "day",
        "720",
        "20",
        "",
        "706120",
        "time_and_materials",
    ),
    (
        "AUD-SECU",
        "Audit de sécurité (test d'intrusion)",
        "flat",
        "8500",
        "20",
        "",
        "706200",
        "on_delivery",
    ),
    (
        "AUD-CODE",
        "Audit de code et de qualité logicielle",
        "flat",
        "6000",
        "20",
        "",
        "706200",
        "on_delivery",
    ),
    ("AUD-RGPD", "Audit de conformité RGPD", "flat", "5500", "20", "", "706200", "on_delivery"),
    ("AUD-ARCHI", "Audit d'architecture cloud", "flat", "7200", "20", "", "706200", "milestones"),
    (
        "FOR-PY",
        "Formation Python avancé (intra, groupe)",
        "day",
        "1450",
        "20",
        "",
        "706300",
        "on_delivery",
    ),
    (
        "FOR-DJANGO",
        "Formation Django (intra, groupe)",
        "day",
        "1500",
        "20",
        "",
        "706300",
        "on_delivery",
    ),
    (
        "FOR-CYBER",
        "Sensibilisation cybersécurité (intra)",
        "day",
        "1200",
        "20",
        "",
        "706300",
        "on_delivery",
    ),
    (
        "FOR-FPC",
        "Formation professionnelle continue – cycle certifiant",
        "day",
        "1350",
        "0",
        "Exonération de TVA, article 261-4-4° du CGI",
        "706310",
        "on_delivery",
    ),
    ("TMA-N1", "TMA – forfait mensuel niveau 1", "month", "3200", "20", "", "706400", "recurring"),
    ("TMA-N2", "TMA – forfait mensuel niveau 2", "month", "6500", "20", "", "706400", "recurring"),
    (
        "TMA-N3",
        "TMA – forfait mensuel niveau 3 (24/7)",
        "month",
        "11800",
        "20",
        "",
        "706400",
        "recurring",
    ),
    ("HEB-S", "Hébergement managé – offre S", "month", "450", "20", "", "706500", "recurring"),
    ("HEB-M", "Hébergement managé – offre M", "month", "1200", "20", "", "706500", "recurring"),
    ("HEB-L", "Hébergement managé – offre L", "month", "2900", "20", "", "706500", "recurring"),
    (
        "LIC-SUITE",
        "Licence Numéria Suite (par utilisateur)",
        "year",
        "180",
        "20",
        "",
        "706600",
        "on_order",
    ),
    (
        "LIC-SUPERV",
        "Licence supervision applicative",
        "year",
        "2400",
        "20",
        "",
        "706600",
        "on_order",
    ),
    (
        "LIC-BACKUP",
        "Licence sauvegarde externalisée",
        "year",
        "960",
        "20",
        "",
        "706600",
        "on_order",
    ),
    ("SUP-H", "Support technique (heure)", "hour", "95", "20", "", "706700", "time_and_materials"),
    ("SUP-ASTR", "Astreinte – forfait mensuel", "month", "1500", "20", "", "706700", "recurring"),
    (
        "DEV-FORFAIT",
        "Développement au forfait – lot fonctionnel",
        "flat",
        "18000",
        "20",
        "",
        "706800",
        "milestones",
    ),
    ("MIG-CLOUD", "Migration cloud – forfait", "flat", "24000", "20", "", "706800", "milestones"),
    (
        "RECETTE",
        "Recette et tests de non-régression",
        "day",
        "560",
        "20",
        "",
        "706800",
        "time_and_materials",
    ),
)

# Quantity range by unit: what a realistic line of this unit orders.
QUANTITIES: Final[dict[str, tuple[int, int]]] = {
    "day": (3, 40),
    "month": (1, 12),
    "year": (1, 3),
    "hour": (5, 60),
    "flat": (1, 1),
}

RULES: Final[tuple[tuple[str, str, str | None, str], ...]] = (
    ("Montant HT supérieur à 50 000 €", "amount_over", "50000", "direction"),
    ("Remise de ligne supérieure à 15 %", "discount_over", "15", "direction"),
    ("Délai de paiement plus long que celui du client", "terms_longer", None, "comptabilite"),
    ("Dépassement de la limite de crédit du client", "over_credit_limit", None, "comptabilite"),
)

PROCEDURE_SHEETS: Final[tuple[tuple[str, str, str], ...]] = (
    (
        "commercial",
        "Avant de soumettre une commande",
        """Le client existe dans le référentiel (pas de doublon) avec SIREN, SIRET et adresse de facturation
Un contact comptabilité fournisseurs avec e-mail est renseigné sur la fiche client
Le bon de commande du client est joint et son numéro saisi (obligatoire si la fiche l'exige)
Les prix viennent du catalogue ou du contrat cadre ; toute remise est justifiée dans les notes
Le mode de facturation correspond à la prestation (régie, forfait, récurrent)
La date de livraison ou de démarrage souhaitée est renseignée
Le délai de paiement n'est pas plus long que celui de la fiche client sans accord de la comptabilité""",
    ),
    (
        "adv",
        "Contrôle ADV d'une commande",
        """Fiche client complète : raison sociale, SIREN/SIRET, TVA intracommunautaire, adresse de facturation
Contacts achats et comptabilité fournisseurs présents, avec e-mail
Numéro de bon de commande client saisi et identique au document reçu
Prix unitaires conformes au catalogue ou au contrat cadre du client
Remises cohérentes avec la proposition commerciale signée
Mode de facturation adapté (régie au temps passé, forfait par jalons, récurrent mensuel)
Date de livraison ou de démarrage réaliste et adresse de livraison correcte
Taux de TVA et mention d'exonération corrects (formation professionnelle continue)""",
    ),
    (
        "comptabilite",
        "Contrôle Comptabilité : risque client",
        """Délai de paiement conforme à la fiche client et au plafond légal (60 jours net ou 45 jours fin de mois)
Encours client après cette commande comparé à la limite de crédit
Incidents de paiement récents : relances en cours, retards, litiges
Acompte à demander si l'encours dépasse la limite
Canal de facturation (e-mail, plateforme, courrier) et contact facturation valides""",
    ),
    (
        "direction",
        "Validation Direction",
        """Marge estimée de la prestation (taux journalier moyen vs coût des consultants)
Remise accordée : justification commerciale et précédent créé pour le client
Montant et durée d'engagement : charge de l'équipe et disponibilité des profils
Intérêt stratégique du client ou du projet (référence, secteur, récurrence)
Risques contractuels : pénalités, forfait à engagement de résultat""",
    ),
)

LEGAL_FORMS: Final = (("SAS", 50), ("SA", 18), ("SARL", 25), ("SASU", 7))

# (sector label stored as the customer's segment, words that make a company name)
SECTORS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("Industrie", ("Industrie", "Mécanique", "Plasturgie", "Composants", "Usinage", "Métallerie")),
    ("Distribution", ("Distribution", "Négoce", "Commerce", "Boutiques", "Diffusion")),
    ("Banque & assurance", ("Finance", "Assurances", "Courtage", "Patrimoine", "Mutuelle")),
    ("Santé", ("Santé", "Pharma", "Médical", "Biotech", "Laboratoires")),
    ("Transport & logistique", ("Logistique", "Transports", "Fret", "Messagerie", "Entrepôts")),
    ("Énergie", ("Énergies", "Solaire", "Hydro", "Réseaux", "Environnement")),
    ("BTP", ("Construction", "Bâtiment", "Travaux", "Immobilier", "Ingénierie")),
    ("Agroalimentaire", ("Alimentaire", "Fromageries", "Vins", "Conserveries", "Minoterie")),
    ("Services", ("Services", "Conseil", "Intérim", "Formation", "Événements")),
    ("Médias & édition", ("Médias", "Éditions", "Communication", "Studios")),
)

SURNAMES: Final = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet",
    "François", "Martinez", "Legrand", "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Muller",
    "Henry", "Roussel", "Nicolas", "Perrin", "Morin", "Mathieu", "Clément", "Gauthier", "Dumont",
    "Lopez", "Fontaine", "Chevalier", "Robin", "Masson", "Sanchez", "Gérard", "Nguyen", "Boyer",
    "Denis", "Lemaire", "Duval", "Joly", "Gautier", "Roger", "Roche", "Roy", "Noël", "Meyer",
    "Lucas", "Meunier", "Jean", "Perez", "Marchand", "Dufour", "Blanchard", "Marie", "Barbier",
    "Brun", "Dumas", "Brunet", "Schmitt", "Leroux", "Colin", "Fernandez", "Pierre", "Renard",
    "Arnaud", "Rolland", "Caron", "Aubert", "Giraud", "Leclerc", "Vidal", "Bourgeois", "Renaud",
    "Lemoine", "Picard", "Gaillard", "Philippe", "Leclercq", "Lacroix", "Fabre", "Dupuis",
    "Olivier", "Rodriguez", "Da Silva", "Hubert", "Louis", "Charles", "Guillot", "Rivière",
    "Le Gall", "Guillaume", "Adam", "Rey", "Moulin", "Gonzalez", "Berger", "Lecomte", "Ménard",
    "Fleury", "Deschamps", "Carpentier", "Julien", "Benoît", "Paris", "Maillard", "Marchal",
    "Aubry", "Vasseur", "Le Roux", "Renault", "Jacquet", "Collet", "Prévost", "Poirier",
    "Charpentier", "Royer", "Huet", "Baron", "Dupuy", "Pons", "Paul", "Laine", "Carré", "Breton",
)  # fmt: skip

FIRST_NAMES: Final = (
    "Camille", "Léa", "Manon", "Chloé", "Emma", "Inès", "Sarah", "Julie", "Laura", "Marion",
    "Pauline", "Céline", "Nathalie", "Sandrine", "Valérie", "Isabelle", "Aurélie", "Élodie",
    "Hélène", "Anne", "Claire", "Sophie", "Caroline", "Mélanie", "Lucie", "Nicolas", "Julien",
    "Thomas", "Alexandre", "Maxime", "Antoine", "Pierre", "Guillaume", "Romain", "Sébastien",
    "Mathieu", "Olivier", "Christophe", "Stéphane", "Laurent", "Frédéric", "David", "Vincent",
    "Jérôme", "François", "Benoît", "Hugo", "Louis", "Arnaud", "Yann", "Karim", "Mehdi", "Samir",
)  # fmt: skip

# Syllables for invented brand names ("Agrinov", "Hexaval"), as French SMEs name themselves.
BRAND_HEADS: Final = (
    "Agri", "Bati", "Cap", "Euro", "Hexa", "Medi", "Nova", "Proxi", "Alti", "Vita", "Logi",
    "Indus", "Océa", "Terra", "Ener", "Mobi", "Pharma", "Aéro", "Fin", "Digi", "Arvor", "Sud",
    "Alpes", "Rhône", "Loire", "Atlan", "Breiz", "Provi", "Armor", "Cévé",
)  # fmt: skip
BRAND_TAILS: Final = (
    "nov", "com", "val", "tek", "sys", "lis", "gie", "plus", "ria", "sol", "tis", "vea", "xis",
    "line", "dis", "pôle", "nea", "ora",
)  # fmt: skip
GROUP_PREFIXES: Final = ("Groupe", "Établissements", "Société", "Compagnie", "Ateliers", "Maison")

# (city, postcode, weight): the Paris and Lyon areas weigh most, as for a Lyon-based ESN.
CITIES: Final[tuple[tuple[str, str, int], ...]] = (
    ("Paris", "75008", 6), ("Paris", "75009", 4), ("Paris", "75015", 4), ("Paris", "75012", 3),
    ("Lyon", "69002", 6), ("Lyon", "69003", 6), ("Lyon", "69007", 4), ("Villeurbanne", "69100", 4),
    ("Vénissieux", "69200", 2), ("Saint-Priest", "69800", 2), ("Marseille", "13002", 3),
    ("Toulouse", "31000", 3), ("Blagnac", "31700", 2), ("Nantes", "44000", 3),
    ("Bordeaux", "33000", 3), ("Mérignac", "33700", 2), ("Lille", "59000", 3),
    ("Strasbourg", "67000", 2), ("Rennes", "35000", 2), ("Montpellier", "34000", 2),
    ("Nice", "06000", 2), ("Valbonne", "06560", 2), ("Grenoble", "38000", 4),
    ("Annecy", "74000", 3), ("Saint-Étienne", "42000", 3), ("Clermont-Ferrand", "63000", 2),
    ("Dijon", "21000", 2), ("Besançon", "25000", 1), ("Tours", "37000", 1), ("Orléans", "45000", 1),
    ("Rouen", "76000", 1), ("Reims", "51100", 1), ("Metz", "57000", 1), ("Nancy", "54000", 1),
    ("Brest", "29200", 1), ("Angers", "49000", 1), ("Caen", "14000", 1), ("Limoges", "87000", 1),
    ("Courbevoie", "92400", 4), ("Boulogne-Billancourt", "92100", 3),
    ("Issy-les-Moulineaux", "92130", 2), ("Levallois-Perret", "92300", 2),
    ("Saint-Denis", "93200", 2), ("Massy", "91300", 1), ("Vélizy-Villacoublay", "78140", 2),
    ("Chambéry", "73000", 2), ("Valence", "26000", 2), ("Bourg-en-Bresse", "01000", 1),
)  # fmt: skip

STREET_TYPES: Final = ("rue", "avenue", "boulevard", "place", "allée", "quai", "chemin", "cours")
STREET_NAMES: Final = (
    "Victor Hugo", "Jean Jaurès", "de la République", "Gambetta", "Pasteur",
    "du Général de Gaulle", "des Lilas", "de la Gare", "Foch", "Carnot", "de Verdun",
    "Émile Zola", "du Commerce", "des Entrepreneurs", "de l'Industrie", "Marcel Dassault",
    "Lafayette", "de la Liberté", "Voltaire", "des Frères Lumière", "Garibaldi", "Vauban",
    "de l'Innovation", "Jean Moulin", "Paul Bert", "Anatole France", "des Tanneurs",
)  # fmt: skip
ADDRESS_EXTRAS: Final = (
    "",
    "",
    "",
    "Bâtiment B",
    "3e étage",
    "ZI des Platières",
    "Parc d'activités Technopole",
    "CS 40021",
)
SITE_LABELS: Final = (
    "Siège",
    "Site de production",
    "Entrepôt",
    "Agence",
    "Centre de données",
    "Direction des systèmes d'information",
)

# (days, basis, weight): what the customers agreed; 45 days end of month is the legal cap.
TERMS: Final[tuple[tuple[int, str, int], ...]] = (
    (30, "net", 35),
    (45, "net", 20),
    (60, "net", 15),
    (45, "end_of_month", 20),
    (30, "end_of_month", 10),
)
CREDIT_LIMITS: Final = ("50000", "75000", "100000", "150000", "250000")

REJECTIONS: Final[dict[str, tuple[str, ...]]] = {
    "adv": (
        "Numéro de bon de commande absent du document client : merci de joindre le BC signé.",
        "Prix de la régie non conforme au contrat cadre : corriger le taux journalier.",
        "Adresse de livraison à confirmer avec le client avant validation.",
        "Date de démarrage incohérente avec le planning de la proposition commerciale.",
        "Mode de facturation erroné : la TMA se facture en récurrent mensuel.",
    ),
    "comptabilite": (
        "Encours client au-delà de la limite : demander un acompte de 30 % avant validation.",
        "Deux factures en retard de plus de 30 jours : régulariser avant toute nouvelle commande.",
        "Délai de paiement non accordé à ce client : repasser aux conditions de la fiche client.",
    ),
    "direction": (
        "Remise non justifiée : revenir à 10 % maximum.",
        "Marge insuffisante sur ce montage : revoir le mix de profils.",
        "Engagement trop long pour la charge de l'équipe : découper en deux lots.",
    ),
}
APPROVAL_COMMENTS: Final[dict[str, tuple[str, ...]]] = {
    "adv": (
        "",
        "",
        "BC reçu, prix conformes au contrat.",
        "Contrôle OK.",
        "Fiche client complétée.",
    ),
    "comptabilite": (
        "",
        "Encours OK.",
        "Acompte de 30 % reçu.",
        "Client bon payeur, délai accordé.",
    ),
    "direction": (
        "",
        "Accord : client stratégique.",
        "Remise validée pour ce lot.",
        "OK pour engager l'équipe.",
    ),
}
CANCELLATIONS: Final = (
    "Projet abandonné par le client.",
    "Doublon d'une commande déjà saisie.",
    "Budget client gelé jusqu'au prochain exercice.",
    "Le client a choisi un autre prestataire.",
)
DECLINES: Final = (
    "Le client a retenu une offre moins chère.",
    "Projet reporté à l'an prochain.",
    "Devis expiré sans réponse.",
)
