"""The places around the children: the streets' minor-protection work stations (未成年人保护工作站) and the
communities' children's homes (儿童之家), their staff on duty, the activities held there and their usage."""
