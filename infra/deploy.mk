# Deployment targets, included from the Makefile. Never run by CI: they need cloud credentials and Docker.
#
# make deploy-aws      AWS SAM: builds infra/Dockerfile into one image and deploys template.yml.
#   needs: Docker, AWS credentials (AWS_PROFILE or the usual variables), AWS_REGION
#   STACK             stack name                                     (default: model-studio-chargeback)
#   BILL_BUCKET       bucket the bill subscription writes to         (required)
#   BILL_STORAGE      oss | s3: where that bucket is                 (default: oss)
#   BILL_PREFIX       the subscription's folder in that bucket       (default: bills)
#   OSS_ENDPOINT      endpoint of the OSS bucket's region            (default: https://oss-cn-hangzhou.aliyuncs.com)
#   MAIL_SENDER       From address; SES_IDENTITY its verified SES identity (domain or address)
#   DELIVERY          ses | smtp | outbox                            (default: ses)
#   FINANCE_CC, ALARM_EMAIL, FINAL_DAY, SAM_ARGS (extra `sam deploy` arguments, e.g. --guided)
#   After the first deploy, put the OSS AccessKey pair into the secret named in the OssKeysSecretArn output
#   and the mapping at s3://<WarehouseBucketName>/config/mapping.yaml.
#
# make deploy-aliyun   Serverless Devs (fc3): deploys infra/aliyun/s.yaml (see infra/aliyun/README.md).
#   needs: the image pushed to ACR, `s config add` done for the access 'default', and the variables
#   ALIYUN_REGION ALIYUN_ACCOUNT_ID ALIYUN_IMAGE ALIYUN_DAILY_ROLE_ARN ALIYUN_MONTHLY_ROLE_ARN BILL_BUCKET
#   BILL_PREFIX WAREHOUSE_BUCKET WAREHOUSE_PREFIX MAIL_SENDER SMTP_SECRET_NAME FAILURE_QUEUE LOG_PROJECT
#   LOG_STORE (FINANCE_CC may be empty)
# make aliyun-ram-policy JOB=daily|monthly   prints that function's RAM policy (infra/aliyun/ram-policy-JOB.json)
#   with those variables (and SMTP_SECRET_KEY_ID, the KMS key of the SMTP secret) filled in.
# make aliyun-bucket-policy   prints the TLS-only bucket policy of the warehouse bucket, filled in.

SAM_VENV     := .venv-sam
SAM          := $(SAM_VENV)/bin/sam
S_CLI        := npx --yes @serverless-devs/s@3
STACK        ?= model-studio-chargeback
BILL_STORAGE ?= oss
BILL_PREFIX  ?= bills
OSS_ENDPOINT ?= https://oss-cn-hangzhou.aliyuncs.com
DELIVERY     ?= ses
FINAL_DAY    ?= 6
FINANCE_CC   ?=
ALARM_EMAIL  ?=
MAIL_SENDER  ?=
SES_IDENTITY ?=
SAM_ARGS     ?=

ALIYUN_VARS := ALIYUN_REGION ALIYUN_ACCOUNT_ID ALIYUN_IMAGE ALIYUN_DAILY_ROLE_ARN ALIYUN_MONTHLY_ROLE_ARN \
               BILL_BUCKET BILL_PREFIX WAREHOUSE_BUCKET WAREHOUSE_PREFIX MAIL_SENDER SMTP_SECRET_NAME FAILURE_QUEUE \
               LOG_PROJECT LOG_STORE
aliyun_missing = $(strip $(foreach v,$(ALIYUN_VARS),$(if $($(v)),,$(v))))
# s.yaml reads its values with ${env('...')}: the defaults above must reach it too.
export BILL_PREFIX FINANCE_CC

# `sam deploy` takes Key=Value pairs; optional parameters are passed only when set.
sam_param = $(if $(2),$(1)=$(2))
SAM_PARAMETERS = BillStorage=$(BILL_STORAGE) BillBucketName=$(BILL_BUCKET) BillPrefix=$(BILL_PREFIX) \
  OssEndpoint=$(OSS_ENDPOINT) Delivery=$(DELIVERY) FinalDay=$(FINAL_DAY) \
  $(call sam_param,SenderAddress,$(MAIL_SENDER)) $(call sam_param,SesIdentity,$(SES_IDENTITY)) \
  $(call sam_param,FinanceCc,$(FINANCE_CC)) $(call sam_param,AlarmEmail,$(ALARM_EMAIL))

.PHONY: deploy-aws deploy-aliyun aliyun-ram-policy aliyun-bucket-policy

# aws-sam-cli pins its own boto3 and click: it lives in a virtual environment of its own.
$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install -q --disable-pip-version-check aws-sam-cli

deploy-aws: $(SAM)  ## build the image and deploy template.yml with AWS SAM (needs Docker and AWS credentials)
	@test -n "$(BILL_BUCKET)" || { echo "set BILL_BUCKET (and see infra/deploy.mk for the others)" >&2; exit 2; }
	$(SAM) validate --lint --template-file template.yml
	$(SAM) build --template-file template.yml
	$(SAM) deploy --stack-name $(STACK) --resolve-s3 --resolve-image-repos \
	  --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset $(SAM_ARGS) \
	  --parameter-overrides $(SAM_PARAMETERS)

deploy-aliyun:  ## deploy infra/aliyun/s.yaml to Function Compute with Serverless Devs (npm @serverless-devs/s)
	@test -z "$(aliyun_missing)" || { echo "set: $(aliyun_missing) (see infra/aliyun/README.md)" >&2; exit 2; }
	$(S_CLI) deploy -t infra/aliyun/s.yaml -y

aliyun-ram-policy:  ## print one FC function's RAM policy (JOB=daily or JOB=monthly) with the names filled in
	@case "$(JOB)" in daily|monthly) ;; *) echo "set JOB=daily or JOB=monthly (one role per function)" >&2; exit 2;; esac
	@envsubst < infra/aliyun/ram-policy-$(JOB).json

aliyun-bucket-policy:  ## print the warehouse bucket's TLS-only OSS bucket policy with its name filled in
	@envsubst < infra/aliyun/oss-bucket-policy-tls-only.json
