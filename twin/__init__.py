"""twin: CityGML to 3D Tiles 1.1, served with live NGSI-LD context joined onto the buildings."""

__version__ = "0.1.0"
