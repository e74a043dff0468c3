"""Sample data: synthetic driving clips with their truth, review PDFs whose structure is
known, and the demo batch built from them."""
