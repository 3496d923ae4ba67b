"""Geography: boundaries (load, match, repair), coal-ban zones (derive, export), CRS rules.

Geometry is stored as WKB in EPSG:4490 (CGCS2000); areas and adjacency are
computed in a CGCS2000 3-degree Gauss–Krüger projection (``geo.crs``).
"""
