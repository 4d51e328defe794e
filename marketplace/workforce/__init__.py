"""Directors and supervisors as a workforce: training, certificates, the yearly assessment and the post subsidy it sets."""
