"""Case conferences (个案会商): participants, minutes, decisions with owners and due dates."""
