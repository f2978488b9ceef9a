DROP TABLE api_rate;
